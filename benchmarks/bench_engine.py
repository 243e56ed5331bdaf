"""Speed of the book's JavaScript engine (``luckbook/assets/live/luck-engine.js``).

Setting: the live panel's two-layer setting, d = 20, m = 5 (student width n = 20 and 50,
i.e. multi 4 and 10), c = 10, batch 16, n_train = 2000, float64. Measured in node (and in
headless Chromium with ``--chromium``, the engine loaded into a blank page):

* ``sgd_steps_per_s``: ``sgdStep`` alone (minibatch forward, backward, update), best of 3
  one-second windows.
* ``run_steps_per_s``: a whole run as the panel's worker makes it: setup (teacher, data,
  student), ``--steps`` steps, and an evaluation (eval-set correlations, fan-outs, eval
  loss) every ``steps/40`` steps.

Usage::

    .venv/bin/python benchmarks/bench_engine.py                 # node only
    .venv/bin/python benchmarks/bench_engine.py --chromium      # also headless Chromium

Writes ``benchmarks/results/<date>_engine.json`` (or ``--json PATH``). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "luckbook" / "assets" / "live" / "luck-engine.js"
WIDTHS = (20, 50)
SETTING = {"d": 20, "m": 5, "c": 10, "batch": 16, "n_train": 2000, "n_eval": 2000}

# Runs in node and in the page alike: returns {width: {sgd_steps_per_s, run_steps_per_s}}.
BENCH_JS = """
function bench(E, widths, setting, steps) {
  var now = function () { return performance.now(); }, out = {};
  widths.forEach(function (n) {
    var s = Object.assign({}, setting, { multi: n / setting.m, steps: steps });
    var sgd = 0;
    for (var k = 0; k < 3; k++) sgd = Math.max(sgd, E.benchmark(s, 1));
    var t0 = now(), settings = E.makeSettings(s), run = E.build(settings, 1), snaps = [];
    run.skip_train_loss = true;  // as the panel's worker does
    for (var t = 0; t <= steps; t += steps / 40) snaps.push(t);
    E.train(settings, run, snaps, function () {});
    var run = steps / ((now() - t0) / 1000);
    out[n] = { sgd_steps_per_s: Math.round(sgd), run_steps_per_s: Math.round(run) };
  });
  return out;
}
"""


def node_bench(steps: int) -> dict:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("bench_engine: node is not installed")
    script = (
        BENCH_JS
        + f"var E = require({json.dumps(str(ENGINE))});\n"
        + f"console.log(JSON.stringify(bench(E, {list(WIDTHS)}, {json.dumps(SETTING)}, {steps})));"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    return {"runtime": f"node {version}", "widths": json.loads(out.stdout)}


def chromium_bench(steps: int) -> dict:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("LUCKBOOK_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as pw:
        args = ["--headless", "--no-sandbox"]
        browser = pw.chromium.launch(executable_path=executable, args=args)
        page = browser.new_page()
        page.add_script_tag(content=ENGINE.read_text())
        page.add_script_tag(content=BENCH_JS)
        widths = page.evaluate(
            f"() => bench(LuckEngine, {list(WIDTHS)}, {json.dumps(SETTING)}, {steps})"
        )
        version = browser.version
        browser.close()
    return {"runtime": f"Chromium {version} (headless)", "widths": widths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="steps of the whole-run measure")
    parser.add_argument("--chromium", action="store_true", help="also measure headless Chromium")
    parser.add_argument("--json", default=None, help="output path")
    args = parser.parse_args()
    now = datetime.datetime.now(datetime.UTC)
    result = {
        "benchmark": "live engine (luck-engine.js): two-layer, d=20, m=5, c=10, batch 16, float64",
        "date": now.isoformat(timespec="seconds"),
        "setting": SETTING,
        "student_widths": list(WIDTHS),
        "run_steps": args.steps,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_before": list(os.getloadavg()),
        "engines": [node_bench(args.steps)],
    }
    if args.chromium:
        result["engines"].append(chromium_bench(args.steps))
    for engine in result["engines"]:
        for n, r in engine["widths"].items():
            print(
                f"{engine['runtime']}: n={n}: {r['sgd_steps_per_s']} SGD steps/s, "
                f"{r['run_steps_per_s']} steps/s in a whole run with evaluations"
            )
    path = (
        Path(args.json)
        if args.json
        else ROOT / "benchmarks" / "results" / (f"{now:%Y-%m-%d}_engine.json")
    )
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
