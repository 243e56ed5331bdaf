// The live engine (luckbook/assets/live/luck-engine.js) under `node --test`.
//
// Goldens: torch runs that the engine must replay to 1e-9. tests/test_live_engine.py writes
// them at test time into $LUCKBOOK_GOLDEN_DIR and runs this file; run alone (`node --test
// tests/js`), it writes them itself with `$LUCKBOOK_PYTHON -m luckbook golden` (default python3).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const ROOT = path.resolve(__dirname, "..", "..");
const E = require(path.join(ROOT, "luckbook", "assets", "live", "luck-engine.js"));

// name -> [--set pairs, --seeds, --steps]; the same list as tests/test_live_engine.py.
const GOLDENS = JSON.parse(fs.readFileSync(path.join(__dirname, "goldens.json"), "utf8"));

function goldenDir() {
  if (process.env.LUCKBOOK_GOLDEN_DIR) return process.env.LUCKBOOK_GOLDEN_DIR;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "luckbook-golden-"));
  const python = process.env.LUCKBOOK_PYTHON || "python3";
  for (const [name, spec] of Object.entries(GOLDENS)) {
    const args = ["-m", "luckbook", "golden", "two-layer", "--steps", String(spec.steps), "--seeds", spec.seeds, "--json", path.join(dir, name + ".json")];
    for (const pair of spec.set) args.push("--set", pair);
    execFileSync(python, args, { cwd: ROOT, stdio: "inherit" });
  }
  return dir;
}

const DIR = goldenDir();

for (const name of Object.keys(GOLDENS)) {
  test(`replays the torch golden "${name}" to 1e-9`, () => {
    const golden = JSON.parse(fs.readFileSync(path.join(DIR, name + ".json"), "utf8"));
    const report = E.replay(golden);
    for (const [quantity, dev] of Object.entries(report.deviations)) {
      assert.ok(dev <= 1e-9, `${name}: ${quantity} deviates by ${dev}`);
    }
    assert.deepEqual(report.mismatches, []);
    assert.ok(report.ok);
    // the snapshot steps are train.snapshot_steps'
    const s = golden.settings;
    const steps = E.snapshotSteps(s.steps, Math.min(s.n_snapshots, s.steps), s.spacing);
    const recorded = golden.runs[0].checkpoints.map((c) => c.step);
    assert.deepEqual(steps.slice(0, recorded.length), recorded);
    if (GOLDENS[name].diverges) {
      for (const run of golden.runs) assert.ok(run.diverged_at !== null, "the golden should diverge");
    }
  });
}

test("a golden whose trajectory is perturbed fails the replay", () => {
  const golden = JSON.parse(fs.readFileSync(path.join(DIR, "plain.json"), "utf8"));
  const last = golden.runs[0].checkpoints.at(-1);
  last.w1[0][0] += 1e-6;
  const report = E.replay(golden);
  assert.ok(!report.ok && report.deviations.w1 > 1e-9);
  const g2 = JSON.parse(fs.readFileSync(path.join(DIR, "plain.json"), "utf8"));
  g2.runs[0].diverged_at = 3;
  assert.ok(!E.replay(g2).ok);
});

test("the engine's own draws: separated teacher, strength decay, zero student biases", () => {
  const s = E.makeSettings({ p: 1.5, multi: 3 });
  const t = E.makeTeacher(s, 7);
  const codes = new Set();
  for (let j = 0; j < s.m; j++) {
    let norm = 0;
    const code = [];
    for (let i = 0; i < s.d; i++) { const v = t.w1.data[i * s.m + j]; norm += v * v; code.push(v); }
    assert.ok(Math.abs(norm - 1) < 1e-12, "unit-norm teacher weights");
    assert.equal(t.w1.data[s.d * s.m + j], s.bias);
    codes.add(code.join(","));
  }
  assert.equal(codes.size, s.m, "distinct codes");
  // fan-out of teacher node i is its raw code divided by (i+1)^p: the raw codes are on the grid
  for (let i = 0; i < s.m; i++) {
    for (let k = 0; k < s.c; k++) {
      const raw = t.w2.data[i * s.c + k] * Math.pow(i + 1, s.p);
      assert.ok(E.CODE_SETS[9].some((v) => Math.abs(v - raw) < 1e-12));
    }
  }
  const st = E.makeStudent(t, s.multi, 7, s.init_scale);
  assert.equal(st.n, 15);
  for (let j = 0; j < st.n; j++) assert.equal(st.w1.data[s.d * st.n + j], 0);
  // same seed, same run; another seed, another teacher
  assert.deepEqual(E.makeTeacher(s, 7).w1.data, t.w1.data);
  assert.notDeepEqual(E.makeTeacher(s, 8).w1.data, t.w1.data);
});

test("a whole run: snapshots, correlations in [-1, 1], divergence reported", () => {
  const records = [];
  const out = E.runSetting({ steps: 300, n_train: 200, n_eval: 100, n_snapshots: 3 }, 1, (r) => records.push(r));
  assert.deepEqual(records.map((r) => r.step), [0, 100, 200, 300]);
  for (const r of records) for (const v of r.corr.data) assert.ok(v >= -1 - 1e-12 && v <= 1 + 1e-12);
  assert.equal(out.diverged_at, null);
  const bad = E.runSetting({ steps: 300, n_train: 200, n_eval: 100, lr: 5 }, 1);
  assert.ok(Number.isInteger(bad.diverged_at));
  assert.throws(() => E.makeSettings({ lr: -1 }), /lr=-1 is not allowed/);
  assert.throws(() => E.makeSettings({ width: 3 }), /unknown setting "width"/);
});
