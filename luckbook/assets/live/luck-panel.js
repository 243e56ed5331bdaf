/* luckbook live panel: re-roll the luck and train the two-layer setting in the page.
 *
 * Every `<div class="luck-live">` (written by `lb.live_panel()` or the Playground page)
 * becomes a panel: Re-roll (a new seed), Train, sliders for the setting, and three figures
 * drawn on canvases while a Web Worker trains (built from a Blob URL, so the page also works
 * from file://): the teacher×student correlation heat-map, best correlation against fan-out
 * per student node (hollow: step 0, filled: now) and each teacher node's best correlation
 * over training. Afterwards a scrubber replays the run. The seed and the settings live in the
 * URL hash (`#lb0=seed:3,multi:2,...`), so a shared link restores the same run.
 * Needs luck-engine.js first (the global `luckEngineFactory`). Requests nothing.
 */
(function () {
  "use strict";
  if (typeof window === "undefined" || window.LuckPanel) return;

  var SLIDERS = [
    { name: "multi", label: "Width multiplier (student nodes per teacher node)", values: [1, 2, 3, 4, 5, 6, 8, 10] },
    { name: "p", label: "Teacher strength decay p", values: [0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3] },
    { name: "init_scale", label: "Student init scale", values: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1] },
    { name: "lr", label: "Learning rate", values: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5] },
    { name: "steps", label: "SGD steps", values: [500, 1000, 2000, 4000, 8000, 16000, 32000] },
  ];
  var SETTING_NAMES = SLIDERS.map(function (s) { return s.name; });
  var MAX_SEED = 999999;
  var panels = [];

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  function fmt(v) { return typeof v === "number" ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(+v.toPrecision(4))) : String(v); }
  function nearestIndex(values, v) {
    var best = 0;
    for (var i = 1; i < values.length; i++) if (Math.abs(values[i] - v) < Math.abs(values[best] - v)) best = i;
    return best;
  }

  // ------------------------------------------------------------------ URL state
  function readHash(key) {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var raw = params.get(key);
    if (!raw) return null;
    var out = {};
    raw.split(",").forEach(function (pair) {
      var kv = pair.split(":");
      if (kv.length === 2 && (kv[0] === "seed" || SETTING_NAMES.indexOf(kv[0]) >= 0) && isFinite(+kv[1])) out[kv[0]] = +kv[1];
    });
    return out;
  }
  function writeHash(key, state) {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    params.set(key, ["seed:" + state.seed].concat(SETTING_NAMES.map(function (n) { return n + ":" + state.settings[n]; })).join(","));
    var url = window.location.href.replace(/#.*$/, "") + "#" + params.toString().replace(/%3A/g, ":").replace(/%2C/g, ",");
    try { window.history.replaceState(null, "", url); } catch (e) { /* some file:// contexts refuse */ }
    return url;
  }

  // ------------------------------------------------------------------ worker
  /* Runs in the Worker: trains and posts a frame at every checkpoint (E.liveCheckpoints). */
  function workerMain() {
    function frame(r) {
      return {
        kind: "frame", step: r.step, corr: Array.from(r.corr.data), teacher_best: Array.from(r.teacher_best),
        student_best: Array.from(r.student_best), student_match: Array.from(r.student_match),
        fanout: Array.from(r.fanout), eval_loss: r.eval_loss, train_loss: r.train_loss,
      };
    }
    self.onmessage = function (msg) {
      var E = LuckEngine, job = msg.data;
      try {
        var settings = E.makeSettings(job.settings), run = E.build(settings, job.seed);
        if (job.preview) {
          self.postMessage(frame(E.snapshot(run, 0, run.student)));
          self.postMessage({ kind: "preview" });
          return;
        }
        run.skip_train_loss = true;
        var snaps = E.liveCheckpoints(settings.steps);
        var out = E.train(settings, run, snaps, function (r) { self.postMessage(frame(r)); });
        self.postMessage({ kind: "done", diverged_at: out.diverged_at, m: settings.m, n: settings.m * settings.multi, teacher_fanout: Array.from(E.fanoutNorms(run.teacher.w2)) });
      } catch (err) {
        self.postMessage({ kind: "error", message: String(err && err.message || err) });
      }
    };
  }
  var workerUrl = null;
  function makeWorker() {
    if (!workerUrl) {
      var src = "var LuckEngine = (" + window.luckEngineFactory.toString() + ")();\n(" + workerMain.toString() + ")();\n";
      workerUrl = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
    }
    return new Worker(workerUrl);
  }

  // ------------------------------------------------------------------ drawing
  var VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
  function viridis(v) {
    v = Math.max(0, Math.min(1, isFinite(v) ? v : 0)) * (VIRIDIS.length - 1);
    var i = Math.min(Math.floor(v), VIRIDIS.length - 2), f = v - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + f * (b[k] - a[k])); }).join(",") + ")";
  }
  var TEACHER_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function theme(root) {
    var cs = window.getComputedStyle(root);
    return { fg: cs.color || "#222", muted: cs.getPropertyValue("--luck-muted").trim() || "#888", font: "12px " + (cs.fontFamily || "sans-serif") };
  }
  function setupCanvas(canvas) {
    var ratio = window.devicePixelRatio || 1, w = canvas.clientWidth || 300, h = canvas.clientHeight || 200;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx: ctx, w: w, h: h };
  }
  function axes(ctx, th, x0, y0, x1, y1, xlabel, ylabel) {
    ctx.strokeStyle = th.fg; ctx.fillStyle = th.fg; ctx.font = th.font; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x0, y1); ctx.moveTo(x0, y0); ctx.lineTo(x1, y0); ctx.stroke();
    ctx.textAlign = "center"; ctx.fillText(xlabel, (x0 + x1) / 2, y0 + 28);
    ctx.save(); ctx.translate(12, (y0 + y1) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(ylabel, 0, 0); ctx.restore();
  }

  function drawHeatmap(canvas, th, frame, first, m, n) {
    var c = setupCanvas(canvas), ctx = c.ctx, left = 34, top = 8, right = 40, bottom = 36;
    var cw = (c.w - left - right) / n, ch = (c.h - top - bottom) / m;
    for (var i = 0; i < m; i++) for (var j = 0; j < n; j++) {
      ctx.fillStyle = viridis(frame.corr[i * n + j]);
      ctx.fillRect(left + j * cw, top + i * ch, Math.ceil(cw), Math.ceil(ch));
    }
    // the lucky node of each teacher: the student with the best correlation at step 0
    ctx.strokeStyle = th.fg; ctx.lineWidth = 2;
    for (var t = 0; t < m; t++) {
      var best = 0;
      for (var s = 1; s < n; s++) if (first.corr[t * n + s] > first.corr[t * n + best]) best = s;
      ctx.strokeRect(left + best * cw + 1, top + t * ch + 1, Math.max(cw - 2, 1), Math.max(ch - 2, 1));
    }
    ctx.fillStyle = th.fg; ctx.font = th.font; ctx.textAlign = "right";
    for (var r = 0; r < m; r++) ctx.fillText("t" + r, left - 4, top + (r + 0.6) * ch);
    ctx.textAlign = "center"; ctx.fillText("student node (0–" + (n - 1) + "); box: luckiest at step 0", left + (c.w - left - right) / 2, c.h - 10);
    for (var k = 0; k <= 10; k++) { ctx.fillStyle = viridis(1 - k / 10); ctx.fillRect(c.w - right + 10, top + k * (c.h - top - bottom) / 11, 10, (c.h - top - bottom) / 11 + 1); }
    ctx.fillStyle = th.fg; ctx.textAlign = "left"; ctx.fillText("1", c.w - right + 24, top + 10); ctx.fillText("≤0", c.w - right + 22, c.h - bottom);
  }

  function drawScatter(canvas, th, frame, first, m, n, maxFan) {
    var c = setupCanvas(canvas), ctx = c.ctx, x0 = 40, y0 = c.h - 36, x1 = c.w - 10, y1 = 10;
    var X = function (v) { return x0 + (Math.max(-0.2, Math.min(1, v)) + 0.2) / 1.2 * (x1 - x0); };
    var Y = function (v) { return y0 - (Math.min(v, maxFan) / maxFan) * (y0 - y1); };
    axes(ctx, th, x0, y0, x1, y1, "best correlation with a teacher node", "fan-out norm");
    ctx.textAlign = "center";
    [0, 0.5, 1].forEach(function (v) { ctx.fillText(String(v), X(v), y0 + 13); });
    ctx.textAlign = "right"; ctx.fillText(fmt(maxFan), x0 - 3, y1 + 8);
    for (var j = 0; j < n; j++) {
      var color = TEACHER_COLORS[frame.student_match[j] % TEACHER_COLORS.length];
      ctx.strokeStyle = th.muted; ctx.lineWidth = 0.7;
      ctx.beginPath(); ctx.moveTo(X(first.student_best[j]), Y(first.fanout[j])); ctx.lineTo(X(frame.student_best[j]), Y(frame.fanout[j])); ctx.stroke();
      ctx.strokeStyle = TEACHER_COLORS[first.student_match[j] % TEACHER_COLORS.length]; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.arc(X(first.student_best[j]), Y(first.fanout[j]), 3, 0, 2 * Math.PI); ctx.stroke();
      ctx.fillStyle = color; ctx.beginPath(); ctx.arc(X(frame.student_best[j]), Y(frame.fanout[j]), 3.5, 0, 2 * Math.PI); ctx.fill();
    }
  }

  function drawCurves(canvas, th, frames, upto, m, steps) {
    var c = setupCanvas(canvas), ctx = c.ctx, x0 = 40, y0 = c.h - 36, x1 = c.w - 10, y1 = 10;
    var X = function (s) { return x0 + (s / steps) * (x1 - x0); };
    var Y = function (v) { return y0 - Math.max(0, Math.min(1, v)) * (y0 - y1); };
    axes(ctx, th, x0, y0, x1, y1, "SGD step", "teacher's best correlation");
    ctx.textAlign = "right"; ctx.fillText("1", x0 - 3, y1 + 8); ctx.fillText("0", x0 - 3, y0);
    ctx.textAlign = "center"; ctx.fillText(String(steps), x1 - 12, y0 + 13);
    ctx.setLineDash([3, 3]); ctx.strokeStyle = th.muted; ctx.beginPath(); ctx.moveTo(x0, Y(0.95)); ctx.lineTo(x1, Y(0.95)); ctx.stroke(); ctx.setLineDash([]);
    for (var t = 0; t < m; t++) {
      ctx.strokeStyle = TEACHER_COLORS[t % TEACHER_COLORS.length]; ctx.lineWidth = 1.6; ctx.beginPath();
      for (var k = 0; k <= upto && k < frames.length; k++) {
        var f = frames[k];
        if (k === 0) ctx.moveTo(X(f.step), Y(f.teacher_best[t])); else ctx.lineTo(X(f.step), Y(f.teacher_best[t]));
      }
      ctx.stroke();
    }
  }

  // ------------------------------------------------------------------ one panel
  function Panel(root, index) {
    this.root = root; this.index = index; this.key = root.getAttribute("data-key") || "lb" + index;
    var given = {};
    try { given = JSON.parse(root.getAttribute("data-settings") || "{}"); } catch (e) { given = {}; }
    this.base = given; // fixed settings (everything but the sliders' may be given here)
    var state = { seed: isFinite(given.seed) ? given.seed : 0, settings: {} };
    SLIDERS.forEach(function (s) { state.settings[s.name] = s.name in given ? given[s.name] : window.LuckEngine.DEFAULTS[s.name]; });
    var fromUrl = readHash(this.key);
    if (fromUrl) {
      if ("seed" in fromUrl) state.seed = Math.max(0, Math.min(MAX_SEED, Math.round(fromUrl.seed)));
      SLIDERS.forEach(function (s) { if (s.name in fromUrl) state.settings[s.name] = s.values[nearestIndex(s.values, fromUrl[s.name])]; });
    }
    this.state = state; this.frames = []; this.worker = null;
    this.build();
    if (fromUrl) this.train();
    else this.preview();
  }

  Panel.prototype.build = function () {
    var self = this, root = this.root, id = "luck-live-" + this.index;
    root.textContent = "";
    root.classList.add("luck-live-ready");
    root.setAttribute("role", "region");
    root.setAttribute("aria-label", "Live two-layer teacher–student training");
    var title = el("p", { class: "luck-live-title" });
    title.innerHTML = "<strong>Re-roll the luck.</strong> One seed of the two-layer setting at reduced size (d = " + this.setting("d") + ", m = " + this.setting("m") + " teacher nodes, c = " + this.setting("c") + " outputs, " + this.setting("n_train") + " training samples), trained by SGD in your browser (float64).";
    this.seedOut = el("output", { class: "luck-live-seed", id: id + "-seed", "aria-live": "polite" });
    this.reroll = el("button", { type: "button", class: "luck-live-reroll", text: "Re-roll", "aria-describedby": id + "-seed" });
    this.trainBtn = el("button", { type: "button", class: "luck-live-train", text: "Train" });
    this.linkBtn = el("button", { type: "button", class: "luck-live-link", text: "Copy link" });
    var buttons = el("div", { class: "luck-live-buttons" }, [this.reroll, this.trainBtn, this.linkBtn, el("span", { text: " seed " }), this.seedOut]);
    this.sliders = {};
    var controls = el("div", { class: "luck-live-controls" });
    SLIDERS.forEach(function (s) {
      var input = el("input", { type: "range", min: "0", max: String(s.values.length - 1), step: "1", id: id + "-" + s.name, "data-name": s.name });
      input.value = String(nearestIndex(s.values, self.state.settings[s.name]));
      var out = el("output", { for: id + "-" + s.name });
      var label = el("label", { for: id + "-" + s.name, text: s.label + " " });
      label.appendChild(out);
      controls.appendChild(el("div", { class: "luck-live-control" }, [label, input]));
      self.sliders[s.name] = { input: input, out: out, spec: s };
      input.addEventListener("input", function () { self.fromSliders(true); if (!self.worker || self.previewing) self.preview(); });
    });
    this.status = el("p", { class: "luck-live-status", role: "status", "aria-live": "polite" });
    this.heat = el("canvas", { class: "luck-live-heat", role: "img", "aria-label": "Heat-map of teacher by student correlations" });
    this.scatter = el("canvas", { class: "luck-live-scatter", role: "img", "aria-label": "Best correlation against fan-out norm per student node" });
    this.curves = el("canvas", { class: "luck-live-curves", role: "img", "aria-label": "Best correlation of each teacher node over training" });
    var figs = el("div", { class: "luck-live-figures" }, [
      el("figure", {}, [this.heat, el("figcaption", { text: "Correlation of every teacher node (rows) with every student node (columns), on the eval set." })]),
      el("figure", {}, [this.scatter, el("figcaption", { text: "Per student node: best correlation vs fan-out norm; hollow = step 0, filled = now, colour = the teacher node it matches." })]),
      el("figure", {}, [this.curves, el("figcaption", { text: "Each teacher node's best correlation over training (dashed: 0.95)." })]),
    ]);
    this.scrub = el("input", { type: "range", min: "0", max: "0", step: "1", value: "0", id: id + "-scrub", disabled: "" });
    this.scrubOut = el("output", { for: id + "-scrub" });
    var scrubLabel = el("label", { for: id + "-scrub", text: "Replay the run: snapshot " });
    scrubLabel.appendChild(this.scrubOut);
    var scrubber = el("div", { class: "luck-live-scrubber" }, [scrubLabel, this.scrub]);
    this.lucky = el("p", { class: "luck-live-lucky", "aria-live": "polite" });
    this.code = el("pre", { class: "luck-live-code" });
    var note = el("p", { class: "luck-live-note", text: "This is one seed at reduced size, not the book's evidence (the chapters use many seeds at book scale). The in-page engine draws its teacher, data and student from its own random streams of the seed; the line below reproduces this run in Python (torch, float64), to float rounding:" });
    root.appendChild(title); root.appendChild(buttons); root.appendChild(controls); root.appendChild(this.status);
    root.appendChild(figs); root.appendChild(scrubber); root.appendChild(this.lucky); root.appendChild(note); root.appendChild(this.code);
    this.reroll.addEventListener("click", function () { self.state.seed = Math.floor(Math.random() * (MAX_SEED + 1)); self.train(); });
    this.trainBtn.addEventListener("click", function () { if (self.worker && !self.previewing) self.stop("Stopped."); else self.train(); });
    this.linkBtn.addEventListener("click", function () { self.copyLink(); });
    this.scrub.addEventListener("input", function () { self.show(+self.scrub.value); });
    var resize = null;
    window.addEventListener("resize", function () { clearTimeout(resize); resize = setTimeout(function () { self.show(+self.scrub.value); }, 100); });
    this.sync(false);
  };

  Panel.prototype.setting = function (name) { return name in this.base ? this.base[name] : window.LuckEngine.DEFAULTS[name]; };

  Panel.prototype.fromSliders = function (share) {
    var self = this;
    SETTING_NAMES.forEach(function (n) { var s = self.sliders[n]; self.state.settings[n] = s.spec.values[+s.input.value]; });
    this.sync(share);
  };

  Panel.prototype.settings = function () {
    var out = {}, k;
    for (k in this.base) if (k !== "seed" && k in window.LuckEngine.DEFAULTS) out[k] = this.base[k];
    for (k in this.state.settings) out[k] = this.state.settings[k];
    return out;
  };

  /* Show the state; `share` also writes it into the URL (only after the reader acts). */
  Panel.prototype.sync = function (share) {
    var self = this, st = this.state;
    SETTING_NAMES.forEach(function (n) {
      var s = self.sliders[n], v = st.settings[n], text = fmt(v) + (n === "multi" ? " (" + v * self.setting("m") + " student nodes)" : "");
      s.out.textContent = text; s.input.setAttribute("aria-valuetext", text);
    });
    this.seedOut.textContent = String(st.seed);
    if (share) this.url = writeHash(this.key, st);
    // the panel's state exactly: seed, the sliders, then any fixed setting not the default
    var settings = this.settings(), args = ["seed=" + st.seed], arg = function (k) {
      args.push(k + "=" + (typeof settings[k] === "string" ? '"' + settings[k] + '"' : String(settings[k])));
    };
    SETTING_NAMES.forEach(arg);
    for (var k in settings) if (SETTING_NAMES.indexOf(k) < 0 && settings[k] !== window.LuckEngine.DEFAULTS[k]) arg(k);
    this.code.textContent = "import luckbook as lb\n\nrun = lb.live_run(" + args.join(", ") + ")\nprint(run.summary())";
  };

  Panel.prototype.copyLink = function () {
    this.sync(true);
    var self = this, url = this.url || window.location.href;
    var done = function (ok) { self.linkBtn.textContent = ok ? "Link copied" : "Link in the address bar"; setTimeout(function () { self.linkBtn.textContent = "Copy link"; }, 2500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(url).then(function () { done(true); }, function () { done(false); });
    else done(false);
  };

  Panel.prototype.stop = function (message) {
    if (this.worker) { this.worker.terminate(); this.worker = null; }
    this.previewing = false;
    this.root.setAttribute("data-state", "done");
    this.trainBtn.textContent = "Train";
    this.finish(message);
  };

  /* Step 0 only: the lucky nodes before any training. */
  Panel.prototype.preview = function () {
    var self = this;
    if (this.worker) { this.worker.terminate(); this.worker = null; }
    var settings = this.settings();
    this.frames = []; this.steps = settings.steps; this.m = this.setting("m"); this.n = this.m * settings.multi;
    this.scrub.disabled = true; this.previewing = true;
    this.root.setAttribute("data-state", "loading");
    try { this.worker = makeWorker(); } catch (e) { this.status.textContent = "This browser cannot start a Web Worker here: " + e.message; return; }
    var worker = this.worker;
    worker.onmessage = function (msg) {
      if (worker !== self.worker) return;
      var d = msg.data;
      if (d.kind === "frame") { self.frames.push(d); self.show(0); }
      else if (d.kind === "preview") {
        self.worker = null; self.previewing = false; worker.terminate();
        self.root.setAttribute("data-state", "preview");
        self.status.textContent = "Seed " + self.state.seed + " before training (step 0). Press Train to train it in your browser.";
      } else if (d.kind === "error") { self.stop("Error: " + d.message); }
    };
    worker.onerror = function (e) { e.preventDefault(); self.stop("Error in the training worker: " + e.message); };
    worker.postMessage({ settings: settings, seed: this.state.seed, preview: true });
  };

  Panel.prototype.train = function () {
    var self = this;
    if (this.worker) { this.worker.terminate(); this.worker = null; }
    this.previewing = false;
    this.root.setAttribute("data-state", "training");
    this.fromSliders(true);
    var settings = this.settings(), steps = settings.steps;
    this.frames = []; this.meta = null; this.steps = steps;
    this.m = this.setting("m"); this.n = this.m * settings.multi;
    this.scrub.disabled = true;
    this.trainBtn.textContent = "Stop";
    this.status.textContent = "Training seed " + this.state.seed + "…";
    this.lucky.textContent = "";
    try { this.worker = makeWorker(); } catch (e) { this.status.textContent = "This browser cannot start a Web Worker here: " + e.message; this.trainBtn.textContent = "Train"; return; }
    var worker = this.worker, started = Date.now();
    worker.onmessage = function (msg) {
      if (worker !== self.worker) return;
      var d = msg.data;
      if (d.kind === "frame") {
        self.frames.push(d);
        self.show(self.frames.length - 1);
        self.status.textContent = "Training seed " + self.state.seed + ": step " + d.step + " of " + steps + ", eval loss " + fmt(d.eval_loss) + ", " + self.coveredText(d) + ".";
      } else if (d.kind === "done") {
        self.meta = d; self.worker = null; worker.terminate(); self.trainBtn.textContent = "Train";
        self.root.setAttribute("data-state", "done");
        self.finish(d.diverged_at !== null ? "Training diverged at step " + d.diverged_at + " (the loss became infinite): the learning rate is too large for this setting." : "Done: " + steps + " steps in " + ((Date.now() - started) / 1000).toFixed(1) + " s.");
      } else if (d.kind === "error") {
        self.stop("Error: " + d.message);
      }
    };
    worker.onerror = function (e) { e.preventDefault(); self.stop("Error in the training worker: " + e.message); };
    worker.postMessage({ settings: settings, seed: this.state.seed });
  };

  Panel.prototype.coveredText = function (f) {
    var k = 0;
    for (var i = 0; i < f.teacher_best.length; i++) if (f.teacher_best[i] > 0.95) k++;
    return k + " of " + f.teacher_best.length + " teacher nodes covered at 0.95";
  };

  Panel.prototype.finish = function (message) {
    var last = this.frames.length - 1;
    if (last >= 0) {
      this.scrub.max = String(last); this.scrub.value = String(last); this.scrub.disabled = false;
      this.show(last);
      var f = this.frames[last];
      this.status.textContent = message + " Step " + f.step + ": eval loss " + fmt(f.eval_loss) + ", " + this.coveredText(f) + ".";
    } else {
      this.status.textContent = message;
    }
  };

  /* Draw snapshot k and describe the lucky nodes (the best at step 0) then and there. */
  Panel.prototype.show = function (k) {
    if (!this.frames.length) return;
    k = Math.max(0, Math.min(k, this.frames.length - 1));
    var th = theme(this.root), f = this.frames[k], first = this.frames[0], m = this.m, n = this.n;
    var maxFan = 1e-12;
    this.frames.forEach(function (g) { for (var j = 0; j < n; j++) if (isFinite(g.fanout[j])) maxFan = Math.max(maxFan, g.fanout[j]); });
    drawHeatmap(this.heat, th, f, first, m, n);
    drawScatter(this.scatter, th, f, first, m, n, maxFan);
    drawCurves(this.curves, th, this.frames, k, m, this.steps);
    this.scrubOut.textContent = (k + 1) + " of " + this.frames.length + " (step " + f.step + ")";
    this.scrub.setAttribute("aria-valuetext", "step " + f.step);
    var parts = [];
    for (var t = 0; t < m; t++) {
      var best = 0;
      for (var s = 1; s < n; s++) if (first.corr[t * n + s] > first.corr[t * n + best]) best = s;
      parts.push("t" + t + ": student " + best + " (" + first.corr[t * n + best].toFixed(2) + (f.step ? " → " + fmt(+f.corr[t * n + best].toFixed(3)) : "") + ")");
    }
    this.lucky.textContent = f.step
      ? "Luckiest student node per teacher node at step 0, its correlation then → at step " + f.step + ": " + parts.join("; ") + "."
      : "Luckiest student node per teacher node at step 0 (the best correlated before any training): " + parts.join("; ") + ".";
    this.heat.setAttribute("aria-label", "Heat-map of teacher by student correlations at step " + f.step + "; " + this.coveredText(f));
  };

  function mountAll() {
    if (!window.LuckEngine || !window.luckEngineFactory) return;
    var roots = document.querySelectorAll("div.luck-live:not(.luck-live-ready)");
    for (var i = 0; i < roots.length; i++) panels.push(new Panel(roots[i], panels.length));
  }

  window.LuckPanel = { mountAll: mountAll, panels: panels, SLIDERS: SLIDERS };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
