/* luckbook live engine: the two-layer teacher–student setting (E4) in plain JavaScript.
 *
 * float64 throughout (Float64Array), no dependencies, no build step. Names and definitions
 * follow the Python package one function per concept: luckbook/teacher.py (separated codes,
 * strength decay p), luckbook/student.py (over-realized student, N(0, init_scale^2) weights,
 * zero biases), luckbook/ensemble.py (homogeneous coordinates: the last row of every weight
 * matrix is the bias), luckbook/train.py (sgd_step, snapshot_steps), luckbook/metrics.py
 * (activation_correlation, best_per_teacher, best_per_student, fanout_norms, square_loss) and
 * luckbook/experiments/two_layer.py (the setting, its defaults and the fixed training set with
 * minibatches drawn with replacement).
 *
 * The engine has its own seeded random streams (sfc32 on a hash of the seed and the stream's
 * name), so a seed gives a different teacher, data and student than `lb.run` does; the
 * Python twin `lb.live_run(seed=...)` (luckbook/live.py) draws the engine's numbers and trains
 * them in torch, to float rounding (`node luck-engine.js run --seed N --json OUT` writes the
 * engine's side). The *dynamics* are also held to the torch engine by goldens (`python -m luckbook golden two-layer ...`, then
 * `node luck-engine.js replay GOLDEN.json`), which carry torch's initial weights, data and
 * minibatch indices.
 *
 * A plain global script: `LuckEngine` (and `luckEngineFactory`, whose source the live panel
 * turns into a Web Worker from a Blob URL); under node, `module.exports`.
 */
function luckEngineFactory() {
  "use strict";

  var EPS = 1e-10; // metrics.EPS: added to the norms in the correlation
  var NINE_CHOICES = [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0];
  var DEFAULT_CHOICES = [-0.5, -0.25, 0.0, 0.25, 0.5];
  var CODE_SETS = { 9: NINE_CHOICES, 5: DEFAULT_CHOICES };
  var DEFAULT_TAUS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

  /* The `tiny` preset of two-layer (experiments/two_layer.py), the live panel's default. */
  var DEFAULTS = {
    d: 20, c: 10, m: 5, multi: 2, bias: -0.1, output_bias: -0.1, n_codes: 9, data_std: 1.5,
    init_scale: 0.005, lr: 0.01, batch: 16, steps: 4000, n_train: 2000, n_eval: 2000,
    n_snapshots: 8, spacing: "linear", p: 0.0, activation: "relu", slope: 0.01,
  };

  // ------------------------------------------------------------------ random streams
  /* A 128-bit hash of a string (cyrb128), the state of one stream. */
  function hashString(text) {
    var h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
    for (var i = 0; i < text.length; i++) {
      var k = text.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
    return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
  }

  /* One independent random stream per (seed, stream), like luckbook/rng.py's `generator`
   * (but not the same numbers): sfc32 on a hash of "luckbook:SEED:STREAM". */
  function generator(seed, stream) {
    var s = hashString("luckbook:" + seed + ":" + stream);
    var a = s[0], b = s[1], c = s[2], d = s[3];
    function next() {
      a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
      var t = (a + b) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      d = (d + 1) | 0;
      t = (t + d) | 0;
      c = (c + t) | 0;
      return t >>> 0;
    }
    for (var i = 0; i < 15; i++) next();
    var rng = {
      uint32: next,
      /* uniform in [0, 1) with 53 random bits */
      uniform: function () { return ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992; },
      /* standard normal (Box–Muller) */
      normal: function () {
        var u = 1 - rng.uniform(), v = rng.uniform();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      },
      /* integer in [0, n) */
      randint: function (n) { return Math.floor(rng.uniform() * n); },
    };
    return rng;
  }

  // ------------------------------------------------------------------ matrices
  /* A row-major float64 matrix {rows, cols, data}. */
  function matrix(rows, cols, data) {
    return { rows: rows, cols: cols, data: data ? Float64Array.from(data) : new Float64Array(rows * cols) };
  }
  function fromNested(rows) {
    var m = matrix(rows.length, rows.length ? rows[0].length : 0);
    for (var i = 0; i < m.rows; i++) for (var j = 0; j < m.cols; j++) m.data[i * m.cols + j] = rows[i][j] === null ? NaN : rows[i][j];
    return m;
  }
  function toNested(m) {
    var out = [];
    for (var i = 0; i < m.rows; i++) out.push(Array.prototype.slice.call(m.data, i * m.cols, (i + 1) * m.cols));
    return out;
  }
  function cloneMatrix(m) { return matrix(m.rows, m.cols, m.data); }

  // ------------------------------------------------------------------ networks (ensemble.py)
  /* ReLU, or Leaky ReLU with negative `slope`. */
  function activate(z, activation, slope) {
    return z > 0 ? z : activation === "relu" ? 0 : z * slope;
  }
  /* Derivative of the activation at z (the gate). */
  function gate(z, activation, slope) {
    return z > 0 ? 1 : activation === "relu" ? 0 : slope;
  }

  /* A two-layer net in homogeneous coordinates: w1 [d+1, n], w2 [n+1, c]; last rows = biases. */
  function makeNet(w1, w2, activation, slope) {
    return { w1: w1, w2: w2, d: w1.rows - 1, n: w1.cols, c: w2.cols, activation: activation || "relu", slope: slope === undefined ? 0.01 : slope };
  }
  function cloneNet(net) { return makeNet(cloneMatrix(net.w1), cloneMatrix(net.w2), net.activation, net.slope); }

  /* Forward pass on x [N, d]: pre-activations z [N, n], hidden h [N, n], output out [N, c]. */
  function forward(net, x) {
    var N = x.rows, d = net.d, n = net.n, c = net.c, w1 = net.w1.data, w2 = net.w2.data, xs = x.data;
    var z = matrix(N, n), h = matrix(N, n), out = matrix(N, c);
    var zd = z.data, hd = h.data, od = out.data;
    for (var s = 0; s < N; s++) {
      for (var j = 0; j < n; j++) {
        var acc = w1[d * n + j];
        for (var i = 0; i < d; i++) acc += xs[s * d + i] * w1[i * n + j];
        zd[s * n + j] = acc;
        hd[s * n + j] = activate(acc, net.activation, net.slope);
      }
      for (var k = 0; k < c; k++) {
        var o = w2[n * c + k];
        for (var j2 = 0; j2 < n; j2++) o += hd[s * n + j2] * w2[j2 * c + k];
        od[s * c + k] = o;
      }
    }
    return { pre: z, hidden: h, out: out };
  }

  // ------------------------------------------------------------------ teacher (teacher.py)
  /* `nOut` distinct non-zero codes of length `nIn` with entries from `choices`: [nIn, nOut]. */
  function separatedCodes(nIn, nOut, choices, rng) {
    var values = choices.slice().sort(function (a, b) { return a - b; });
    var codes = matrix(nIn, nOut), seen = {}, count = 0;
    while (count < nOut) {
      var code = [], nonzero = false;
      for (var i = 0; i < nIn; i++) { code.push(values[rng.randint(values.length)]); if (code[i] !== 0) nonzero = true; }
      var key = code.join(",");
      if (!nonzero || seen[key]) continue;
      seen[key] = true;
      for (var i2 = 0; i2 < nIn; i2++) codes.data[i2 * nOut + count] = code[i2];
      count++;
    }
    return codes;
  }

  /* One teacher layer [nIn+1, nOut]: codes plus a bias row; normalize "weights" scales each
   * column's weights (bias excluded) to unit norm, "none" keeps the raw codes. */
  function teacherLayer(nIn, nOut, rng, choices, bias, normalize) {
    var codes = separatedCodes(nIn, nOut, choices, rng), w = matrix(nIn + 1, nOut);
    for (var j = 0; j < nOut; j++) {
      var norm = 0;
      for (var i = 0; i < nIn; i++) norm += codes.data[i * nOut + j] * codes.data[i * nOut + j];
      norm = normalize === "weights" ? Math.max(Math.sqrt(norm), 1e-12) : 1;
      for (var i2 = 0; i2 < nIn; i2++) w.data[i2 * nOut + j] = codes.data[i2 * nOut + j] / norm;
      w.data[nIn * nOut + j] = bias;
    }
    return w;
  }

  /* Divide the fan-out row of node i (rows of the next layer, bias excluded) by (i+1)^p. */
  function applyStrengthDecay(wNext, p) {
    var out = cloneMatrix(wNext);
    for (var i = 0; i < wNext.rows - 1; i++) {
      var scale = Math.pow(i + 1, -p);
      for (var k = 0; k < wNext.cols; k++) out.data[i * wNext.cols + k] *= scale;
    }
    return out;
  }

  /* The separated teacher d -> m -> c of two-layer for `seed` (its "teacher" stream). */
  function makeTeacher(settings, seed) {
    var rng = generator(seed, "teacher"), choices = CODE_SETS[settings.n_codes];
    var w1 = teacherLayer(settings.d, settings.m, rng, choices, settings.bias, "weights");
    var w2 = teacherLayer(settings.m, settings.c, rng, choices, settings.output_bias, "none");
    if (settings.p) w2 = applyStrengthDecay(w2, settings.p);
    return makeNet(w1, w2, settings.activation, settings.slope);
  }

  // ------------------------------------------------------------------ student (student.py)
  /* Hidden width of the over-realized student: multi · m. */
  function studentWidth(settings) { return settings.multi * settings.m; }

  /* Every weight N(0, init_scale^2), biases 0 (init "gaussian"), from `seed`'s "student" stream. */
  function makeStudent(teacher, multi, seed, initScale) {
    var rng = generator(seed, "student"), n = multi * teacher.n;
    function layer(nIn, nOut) {
      var w = matrix(nIn + 1, nOut);
      for (var i = 0; i < nIn * nOut; i++) w.data[i] = initScale * rng.normal();
      return w; // bias row stays 0
    }
    return makeNet(layer(teacher.d, n), layer(n, teacher.c), teacher.activation, teacher.slope);
  }

  // ------------------------------------------------------------------ data (data.py)
  /* x ~ N(0, data_std^2 I_d): [n, d] from `seed`'s `stream`. */
  function gaussian(n, d, seed, dataStd, stream) {
    var rng = generator(seed, stream || "train_data"), x = matrix(n, d);
    for (var i = 0; i < n * d; i++) x.data[i] = dataStd * rng.normal();
    return x;
  }

  /* The minibatch indices of every step, drawn with replacement from n samples. */
  function batchIndices(seed, steps, batch, n) {
    var rng = generator(seed, "batches"), out = new Int32Array(steps * batch);
    for (var i = 0; i < out.length; i++) out[i] = rng.randint(n);
    return out;
  }

  // ------------------------------------------------------------------ training (train.py)
  /* Sorted unique snapshot steps from 0 to `steps` (train.snapshot_steps). Python's round()
   * rounds halves to even; so does this. */
  function roundHalfEven(x) {
    var r = Math.round(x), f = Math.floor(x);
    if (x - f === 0.5) return f % 2 === 0 ? f : f + 1;
    return r;
  }
  function snapshotSteps(steps, n, spacing) {
    var points = [];
    if (spacing === "log") {
      points.push(0);
      for (var i = 0; i <= n; i++) points.push(roundHalfEven(Math.exp((i * Math.log(steps)) / n)));
    } else {
      for (var j = 0; j <= n; j++) points.push(roundHalfEven((j * steps) / n));
    }
    var set = {};
    points.forEach(function (p) { set[Math.min(Math.max(p, 0), steps)] = true; });
    return Object.keys(set).map(Number).sort(function (a, b) { return a - b; });
  }

  /* One in-place SGD step W += lr·ΔW on the minibatch rows `idx[offset .. offset+B)` of the
   * training set (x [N, d], y [N, c]); returns the loss ½·mean_batch‖y − ŷ‖² before it.
   * Back-propagates through the not yet updated second layer, exactly like train.sgd_step. */
  function sgdStep(net, x, y, idx, offset, B, lr, work) {
    var d = net.d, n = net.n, c = net.c, w1 = net.w1.data, w2 = net.w2.data, xs = x.data, ys = y.data;
    var a = work.a, z = work.z, g = work.g, g1 = work.g1; // [B, n+1], [B, n], [B, c], [B, n]
    var loss = 0;
    for (var b = 0; b < B; b++) {
      var r = idx[offset + b], xo = r * d;
      for (var j = 0; j < n; j++) {
        var acc = w1[d * n + j];
        for (var i = 0; i < d; i++) acc += xs[xo + i] * w1[i * n + j];
        z[b * n + j] = acc;
        a[b * (n + 1) + j] = activate(acc, net.activation, net.slope);
      }
      a[b * (n + 1) + n] = 1;
      for (var k = 0; k < c; k++) {
        var o = 0;
        for (var j2 = 0; j2 <= n; j2++) o += a[b * (n + 1) + j2] * w2[j2 * c + k];
        var e = ys[r * c + k] - o;
        g[b * c + k] = e;
        loss += e * e;
      }
    }
    loss = (0.5 * loss) / B;
    var alpha = lr / B;
    // below = g · W2[:-1]^T, gated, with the old W2
    for (var b2 = 0; b2 < B; b2++) {
      for (var j3 = 0; j3 < n; j3++) {
        var s = 0;
        for (var k2 = 0; k2 < c; k2++) s += g[b2 * c + k2] * w2[j3 * c + k2];
        g1[b2 * n + j3] = s * gate(z[b2 * n + j3], net.activation, net.slope);
      }
    }
    // W2 += alpha · a^T g
    for (var j4 = 0; j4 <= n; j4++) {
      for (var k3 = 0; k3 < c; k3++) {
        var u = 0;
        for (var b3 = 0; b3 < B; b3++) u += a[b3 * (n + 1) + j4] * g[b3 * c + k3];
        w2[j4 * c + k3] += alpha * u;
      }
    }
    // W1 += alpha · x1^T g1 (the last row of x1 is the constant 1)
    for (var i2 = 0; i2 <= d; i2++) {
      for (var j5 = 0; j5 < n; j5++) {
        var v = 0;
        if (i2 === d) for (var b5 = 0; b5 < B; b5++) v += g1[b5 * n + j5];
        else for (var b4 = 0; b4 < B; b4++) v += xs[idx[offset + b4] * d + i2] * g1[b4 * n + j5];
        w1[i2 * n + j5] += alpha * v;
      }
    }
    return loss;
  }

  function sgdWork(net, B) {
    return { a: new Float64Array(B * (net.n + 1)), z: new Float64Array(B * net.n), g: new Float64Array(B * net.c), g1: new Float64Array(B * net.n) };
  }

  // ------------------------------------------------------------------ metrics (metrics.py)
  /* Pearson correlation of teacher and student activations over samples: ht [N, K_t],
   * hs [N, K_s] -> [K_t, K_s] (centred columns, norms plus EPS). */
  function activationCorrelation(ht, hs) {
    var N = ht.rows, kt = ht.cols, ks = hs.cols;
    var ct = centred(ht), cs = centred(hs), out = matrix(kt, ks);
    var nt = columnNorms(ct), ns = columnNorms(cs);
    for (var i = 0; i < kt; i++) {
      for (var j = 0; j < ks; j++) {
        var acc = 0;
        for (var s = 0; s < N; s++) acc += ct.data[s * kt + i] * cs.data[s * ks + j];
        out.data[i * ks + j] = acc / ((nt[i] + EPS) * (ns[j] + EPS));
      }
    }
    return out;
  }
  function centred(h) {
    var out = cloneMatrix(h), N = h.rows, k = h.cols;
    for (var j = 0; j < k; j++) {
      var mean = 0;
      for (var s = 0; s < N; s++) mean += h.data[s * k + j];
      mean /= N;
      for (var s2 = 0; s2 < N; s2++) out.data[s2 * k + j] -= mean;
    }
    return out;
  }
  function columnNorms(h) {
    var out = new Float64Array(h.cols);
    for (var s = 0; s < h.rows; s++) for (var j = 0; j < h.cols; j++) out[j] += h.data[s * h.cols + j] * h.data[s * h.cols + j];
    for (var j2 = 0; j2 < h.cols; j2++) out[j2] = Math.sqrt(out[j2]);
    return out;
  }

  /* [K_t, K_s] -> [K_t]: each teacher node's best correlation over students. */
  function bestPerTeacher(corr) {
    var out = new Float64Array(corr.rows);
    for (var i = 0; i < corr.rows; i++) {
      var best = -Infinity;
      for (var j = 0; j < corr.cols; j++) best = Math.max(best, corr.data[i * corr.cols + j]);
      out[i] = best;
    }
    return out;
  }

  /* [K_t, K_s] -> each student's best correlation and which teacher (first on ties). */
  function bestPerStudent(corr) {
    var values = new Float64Array(corr.cols), index = new Int32Array(corr.cols);
    for (var j = 0; j < corr.cols; j++) {
      var best = -Infinity, arg = 0;
      for (var i = 0; i < corr.rows; i++) {
        var v = corr.data[i * corr.cols + j];
        if (v > best || (isNaN(v) && !isNaN(best))) { best = v; arg = i; }
      }
      values[j] = best; index[j] = arg;
    }
    return { values: values, index: index };
  }

  /* Number of teacher nodes covered at each threshold: some student's correlation > tau. */
  function covered(corr, taus) {
    var best = bestPerTeacher(corr);
    return taus.map(function (tau) { var k = 0; for (var i = 0; i < best.length; i++) if (best[i] > tau) k++; return k; });
  }

  /* Fan-out weight norm of each node: norms of the rows of the next layer, bias row excluded. */
  function fanoutNorms(wNext) {
    var n = wNext.rows - 1, out = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      var s = 0;
      for (var k = 0; k < wNext.cols; k++) s += wNext.data[i * wNext.cols + k] * wNext.data[i * wNext.cols + k];
      out[i] = Math.sqrt(s);
    }
    return out;
  }

  /* ½ · mean over samples of ‖y_t − y_s‖². */
  function squareLoss(yt, ys) {
    var s = 0;
    for (var i = 0; i < yt.data.length; i++) { var e = yt.data[i] - ys.data[i]; s += e * e; }
    return (0.5 * s) / yt.rows;
  }

  /* A fixed sample set with the teacher's activations on it (evaluate.Probe). */
  function makeProbe(teacher, x) { return { x: x, t: forward(teacher, x) }; }

  /* Loss, correlation [m, n], best per teacher/student, fan-out of a student on a probe. */
  function evaluate(probe, student) {
    var f = forward(student, probe.x), corr = activationCorrelation(probe.t.hidden, f.hidden);
    var bs = bestPerStudent(corr);
    return {
      loss: squareLoss(probe.t.out, f.out), corr: corr, teacher_best: bestPerTeacher(corr),
      student_best: bs.values, student_match: bs.index, fanout: fanoutNorms(student.w2),
    };
  }

  // ------------------------------------------------------------------ the setting
  /* Settings = DEFAULTS overridden by `overrides`; a bad value throws a one-line Error. */
  function makeSettings(overrides) {
    var s = {}, k;
    for (k in DEFAULTS) s[k] = DEFAULTS[k];
    for (k in overrides || {}) {
      if (!(k in DEFAULTS)) throw new Error("unknown setting " + JSON.stringify(k) + "; allowed: " + Object.keys(DEFAULTS).join(", "));
      s[k] = overrides[k];
    }
    ["d", "c", "m", "multi", "batch", "steps", "n_train", "n_eval", "n_snapshots"].forEach(function (name) {
      if (!(Number.isInteger(s[name]) && s[name] >= 1)) throw new Error(name + "=" + JSON.stringify(s[name]) + " is not allowed: expected an integer >= 1");
    });
    ["init_scale", "lr", "data_std"].forEach(function (name) {
      if (!(isFinite(s[name]) && s[name] > 0)) throw new Error(name + "=" + JSON.stringify(s[name]) + " is not allowed: expected a number > 0");
    });
    if (!(isFinite(s.p) && s.p >= 0)) throw new Error("p=" + JSON.stringify(s.p) + " is not allowed: expected a number >= 0");
    if (!CODE_SETS[s.n_codes]) throw new Error("n_codes=" + JSON.stringify(s.n_codes) + " is not allowed: expected 9 or 5");
    return s;
  }

  /* Everything a run needs, drawn from `seed` (or given: a golden's torch draws). */
  function build(settings, seed, given) {
    var teacher = given ? given.teacher : makeTeacher(settings, seed);
    var student = given ? given.student : makeStudent(teacher, settings.multi, seed, settings.init_scale);
    var xTrain = given ? given.x_train : gaussian(settings.n_train, settings.d, seed, settings.data_std, "train_data");
    var xEval = given ? given.x_eval : gaussian(settings.n_eval, settings.d, seed, settings.data_std, "eval_data");
    var trainProbe = makeProbe(teacher, xTrain), evalProbe = makeProbe(teacher, xEval);
    return {
      teacher: teacher, student: student, x_train: xTrain, y_train: trainProbe.t.out,
      train_probe: trainProbe, eval_probe: evalProbe,
      batches: given ? given.batches : batchIndices(seed, settings.steps, settings.batch, settings.n_train),
    };
  }

  /* One snapshot record: eval correlations, fan-outs, train and eval losses, weights. */
  function snapshot(run, step, student) {
    var ev = evaluate(run.eval_probe, student);
    return {
      step: step, corr: ev.corr, teacher_best: ev.teacher_best, student_best: ev.student_best,
      student_match: ev.student_match, fanout: ev.fanout, eval_loss: ev.loss,
      // run.skip_train_loss: the panel shows the eval loss only (a forward pass saved)
      train_loss: run.skip_train_loss ? null : squareLoss(run.y_train, forward(student, run.x_train).out),
      w1: cloneMatrix(student.w1), w2: cloneMatrix(student.w2),
    };
  }

  /* Train `run.student` in place by SGD; calls onSnapshot(record) at `snapshots` and stops at
   * the first step whose minibatch loss is not finite (diverged_at; train.DivergenceError). */
  function train(settings, run, snapshots, onSnapshot) {
    var student = run.student, B = settings.batch, work = sgdWork(student, B);
    var batchLoss = new Float64Array(settings.steps), wanted = {}, divergedAt = null;
    snapshots.forEach(function (s) { wanted[s] = true; });
    for (var t = 0; t < settings.steps; t++) {
      if (wanted[t] && onSnapshot) onSnapshot(snapshot(run, t, student));
      var loss = sgdStep(student, run.x_train, run.y_train, run.batches, t * B, B, settings.lr, work);
      batchLoss[t] = loss;
      if (!isFinite(loss)) { divergedAt = t; break; }
    }
    if (divergedAt === null && wanted[settings.steps] && onSnapshot) onSnapshot(snapshot(run, settings.steps, student));
    return { batch_loss: batchLoss, diverged_at: divergedAt };
  }

  /* A whole run from a seed: {records, batch_loss, diverged_at, teacher_fanout, ...}. */
  function runSetting(overrides, seed, onSnapshot) {
    var settings = makeSettings(overrides), run = build(settings, seed);
    var records = [];
    var out = train(settings, run, snapshotSteps(settings.steps, Math.min(settings.n_snapshots, settings.steps), settings.spacing), function (rec) {
      records.push(rec);
      if (onSnapshot) onSnapshot(rec);
    });
    out.records = records; out.settings = settings; out.seed = seed;
    out.teacher_fanout = fanoutNorms(run.teacher.w2);
    return out;
  }

  /* The panel's checkpoints of a run of `steps` steps: every max(50, round(steps / 40)) steps
   * from 0, and the last step (luckbook/live.py: live_checkpoints). */
  function liveCheckpoints(steps) {
    var every = Math.max(50, Math.round(steps / 40)), out = [];
    for (var t = 0; t < steps; t += every) out.push(t);
    out.push(steps);
    return out;
  }

  /* The panel's run of `seed` at its checkpoints, as plain arrays (JSON-ready: a non-finite
   * number becomes null); `lb.live_run` (luckbook/live.py) computes the same run in torch. */
  function liveRun(overrides, seed) {
    var settings = makeSettings(overrides), run = build(settings, seed), records = [];
    var out = train(settings, run, liveCheckpoints(settings.steps), function (r) { records.push(r); });
    function num(v) { return isFinite(v) ? v : null; }
    function arr(a) { return Array.prototype.map.call(a, num); }
    function rows(m) { return toNested(m).map(function (r) { return r.map(num); }); }
    function each(f) { return records.map(f); }
    return {
      seed: seed, settings: settings, steps: each(function (r) { return r.step; }),
      eval_loss: each(function (r) { return num(r.eval_loss); }),
      train_loss: each(function (r) { return num(r.train_loss); }),
      corr: each(function (r) { return rows(r.corr); }),
      teacher_best: each(function (r) { return arr(r.teacher_best); }),
      student_best: each(function (r) { return arr(r.student_best); }),
      student_match: each(function (r) { return Array.from(r.student_match); }),
      fanout: each(function (r) { return arr(r.fanout); }),
      batch_loss: arr(out.diverged_at === null ? out.batch_loss : out.batch_loss.subarray(0, out.diverged_at + 1)),
      diverged_at: out.diverged_at, teacher_fanout: arr(fanoutNorms(run.teacher.w2)),
    };
  }

  // ------------------------------------------------------------------ goldens
  /* Largest deviation |js − torch| / max(1, |torch|) of every quantity of a golden (written
   * by `python -m luckbook golden two-layer`); non-finite values must agree exactly. */
  function replay(golden) {
    var settings = golden.settings, dev = {}, mismatch = [];
    function note(name, js, ref) {
      var worst = dev[name] || 0;
      for (var i = 0; i < ref.length; i++) {
        var a = js[i], b = ref[i], e;
        // JSON has no inf or nan: the golden writes null for either, so null matches any
        // non-finite value (and nothing finite).
        if (b === null || !isFinite(a)) e = b === null && !isFinite(a) ? 0 : Infinity;
        else e = Math.abs(a - b) / Math.max(1, Math.abs(b));
        if (!(e <= worst)) worst = e;
      }
      dev[name] = worst;
    }
    function flat(nested) { return [].concat.apply([], nested); }
    golden.runs.forEach(function (g) {
      var activation = settings.activation, slope = settings.slope;
      var given = {
        teacher: makeNet(fromNested(g.teacher[0]), fromNested(g.teacher[1]), activation, slope),
        student: makeNet(fromNested(g.student[0]), fromNested(g.student[1]), activation, slope),
        x_train: fromNested(g.x_train), x_eval: fromNested(g.x_eval), batches: Int32Array.from(flat(g.batches)),
      };
      var s = {}; for (var k in settings) s[k] = settings[k];
      var run = build(s, g.seed, given), records = [];
      var out = train(s, run, g.checkpoints.map(function (c) { return c.step; }), function (r) { records.push(r); });
      if (out.diverged_at !== g.diverged_at) mismatch.push("seed " + g.seed + ": diverged_at js=" + out.diverged_at + " torch=" + g.diverged_at);
      var nLoss = g.batch_loss.length;
      note("batch_loss", Array.prototype.slice.call(out.batch_loss, 0, nLoss), g.batch_loss);
      if (records.length !== g.checkpoints.length) mismatch.push("seed " + g.seed + ": " + records.length + " checkpoints in js, " + g.checkpoints.length + " in torch");
      g.checkpoints.forEach(function (c, i) {
        var r = records[i];
        if (!r) return;
        note("w1", r.w1.data, flat(c.w1)); note("w2", r.w2.data, flat(c.w2));
        note("train_loss", [r.train_loss], [c.train_loss]); note("eval_loss", [r.eval_loss], [c.eval_loss]);
        note("corr", r.corr.data, flat(c.corr)); note("teacher_best", r.teacher_best, c.teacher_best);
        note("student_best", r.student_best, c.student_best); note("fanout", r.fanout, c.fanout);
        var wrong = 0;
        for (var j = 0; j < c.student_match.length; j++) if (r.student_match[j] !== c.student_match[j]) wrong++;
        dev.student_match = Math.max(dev.student_match || 0, wrong);
      });
    });
    var worst = 0;
    for (var name in dev) worst = Math.max(worst, dev[name]);
    return { deviations: dev, mismatches: mismatch, max: worst, ok: worst <= 1e-9 && !mismatch.length };
  }

  /* Steps per second of sgdStep at the given settings (a benchmark). */
  function benchmark(overrides, seconds) {
    var settings = makeSettings(overrides), run = build(settings, 0), B = settings.batch;
    var work = sgdWork(run.student, B), steps = 0, now = function () { return typeof performance !== "undefined" ? performance.now() : Date.now(); };
    var t0 = now(), limit = (seconds || 1) * 1000;
    while (now() - t0 < limit) {
      for (var i = 0; i < 200; i++, steps++) sgdStep(run.student, run.x_train, run.y_train, run.batches, (steps % settings.steps) * B, B, settings.lr, work);
    }
    return steps / ((now() - t0) / 1000);
  }

  return {
    EPS: EPS, DEFAULTS: DEFAULTS, DEFAULT_TAUS: DEFAULT_TAUS, CODE_SETS: CODE_SETS,
    generator: generator, matrix: matrix, fromNested: fromNested, toNested: toNested,
    activate: activate, gate: gate, makeNet: makeNet, cloneNet: cloneNet, forward: forward,
    separatedCodes: separatedCodes, teacherLayer: teacherLayer, applyStrengthDecay: applyStrengthDecay,
    makeTeacher: makeTeacher, studentWidth: studentWidth, makeStudent: makeStudent,
    gaussian: gaussian, batchIndices: batchIndices, snapshotSteps: snapshotSteps,
    sgdStep: sgdStep, activationCorrelation: activationCorrelation, bestPerTeacher: bestPerTeacher,
    bestPerStudent: bestPerStudent, covered: covered, fanoutNorms: fanoutNorms, squareLoss: squareLoss,
    makeProbe: makeProbe, evaluate: evaluate, makeSettings: makeSettings, build: build,
    snapshot: snapshot, train: train, runSetting: runSetting, liveCheckpoints: liveCheckpoints,
    liveRun: liveRun, replay: replay, benchmark: benchmark,
  };
}

var LuckEngine = luckEngineFactory();

if (typeof module === "object" && module && module.exports) {
  module.exports = LuckEngine;
  module.exports.luckEngineFactory = luckEngineFactory;
  if (typeof require === "function" && require.main === module) {
    /* node luck-engine.js replay GOLDEN.json
     * node luck-engine.js run --seed N [--set name=value ...] [--json OUT.json] */
    var argv = process.argv.slice(2);
    if (argv[0] === "run") {
      var overrides = {}, seed = 0, outPath = null;
      for (var a = 1; a < argv.length; a += 2) {
        if (argv[a] === "--seed") seed = Number(argv[a + 1]);
        else if (argv[a] === "--json") outPath = argv[a + 1];
        else if (argv[a] === "--set") {
          var kv = String(argv[a + 1]).split("="), v = Number(kv[1]);
          overrides[kv[0]] = kv[1] !== "" && isFinite(v) ? v : kv[1];
        } else throw new Error("unknown argument " + JSON.stringify(argv[a]) + "; allowed: --seed, --set, --json");
      }
      if (!(Number.isInteger(seed) && seed >= 0)) throw new Error("--seed=" + JSON.stringify(argv[argv.indexOf("--seed") + 1]) + " is not allowed: expected an integer >= 0");
      var text = JSON.stringify(LuckEngine.liveRun(overrides, seed));
      if (outPath) require("fs").writeFileSync(outPath, text);
      else console.log(text);
    } else if (argv[0] === "replay" && argv[1]) {
      var report = LuckEngine.replay(JSON.parse(require("fs").readFileSync(argv[1], "utf8")));
      Object.keys(report.deviations).forEach(function (k) { console.log(k + ": " + report.deviations[k].toExponential(2)); });
      report.mismatches.forEach(function (m) { console.log("mismatch: " + m); });
      console.log((report.ok ? "ok" : "FAILED") + ": largest deviation " + report.max.toExponential(2) + " (limit 1e-9)");
      process.exitCode = report.ok ? 0 : 1;
    } else {
      console.error("usage: node luck-engine.js replay GOLDEN.json | run --seed N [--set k=v] [--json OUT]");
      process.exitCode = 2;
    }
  }
} else if (typeof self !== "undefined") {
  self.LuckEngine = LuckEngine;
  self.luckEngineFactory = luckEngineFactory;
}
