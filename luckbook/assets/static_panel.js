(function(){
  var root = document.getElementById(%(id)s);
  if (!root || root.dataset.ready) { return; }
  root.dataset.ready = "1";
  var data = JSON.parse(root.querySelector("script.lb-data").textContent);
  var sliders = Array.prototype.slice.call(root.querySelectorAll("input.lb-slider"));
  var img = root.querySelector("img.lb-image");
  // A wide multi-panel figure scaled down to the column would shrink its text below
  // legibility: never show it at less than MIN_SCALE of its natural size (the smallest
  // figure text, 9 pt at 110 dpi = 13.75 px, stays >= 9 px); wider images scroll in their box.
  var MIN_SCALE = 0.66;
  if (img && !img.parentNode.classList.contains("lb-image-box")) {
    var box = document.createElement("div");
    box.className = "lb-image-box";
    img.parentNode.insertBefore(box, img);
    box.appendChild(img);
  }
  function fit() {
    if (img && img.naturalWidth) {
      img.style.minWidth = Math.round(img.naturalWidth * MIN_SCALE) + "px";
    }
  }
  if (img) { img.addEventListener("load", fit); fit(); }
  var numbers = root.querySelector("pre.lb-numbers");
  var code = root.querySelector("pre.lb-code");
  var svg = root.querySelector("a.lb-svg");
  // A categorical setting shows buttons; its (hidden) range input holds the state.
  var options = Array.prototype.slice.call(root.querySelectorAll("button.lb-option"));
  function sliderNamed(name) {
    return sliders.filter(function(s){ return s.dataset.name === name; })[0];
  }
  options.forEach(function(b){
    b.addEventListener("click", function(){
      var s = sliderNamed(b.dataset.name);
      if (!s) { return; }
      s.value = b.dataset.index;
      s.dispatchEvent(new Event("input", {bubbles: true}));
    });
  });
  function show() {
    var key = sliders.map(function(s){ return s.value; }).join(",");
    var frame = data.frames[key];
    sliders.forEach(function(s, i){
      root.querySelector("output.lb-value[data-name='" + s.dataset.name + "']").textContent = data.labels[i][+s.value];
    });
    options.forEach(function(b){
      var s = sliderNamed(b.dataset.name);
      b.setAttribute("aria-pressed", s && s.value === b.dataset.index ? "true" : "false");
    });
    if (!frame) { return; }
    img.src = frame.img; img.alt = frame.alt; numbers.textContent = frame.text;
    if (svg && frame.svgz && svg.dataset.svgz !== frame.svgz) {
      // the link's click handler unpacks data-svgz into a blob URL once; a new frame resets it
      if (svg.dataset.ready) { window.URL.revokeObjectURL(svg.href); delete svg.dataset.ready; }
      svg.dataset.svgz = frame.svgz; svg.download = frame.svg; svg.href = "#";
    }
    if (code && frame.code) { code.textContent = frame.code; }
  }
  var copy = root.querySelector("button.lb-copy");
  if (copy && code) {
    // The clipboard API needs a secure context and permission; from file:// it may be
    // missing or refuse, so the code is always selected too (Ctrl+C copies it).
    copy.addEventListener("click", function(){
      var range = document.createRange();
      range.selectNodeContents(code);
      var sel = window.getSelection();
      sel.removeAllRanges(); sel.addRange(range);
      var done = function(ok){
        copy.textContent = ok ? "Copied" : "Selected — press Ctrl+C";
        setTimeout(function(){ copy.textContent = "Copy"; }, 2500);
      };
      var legacy = function(){ var ok = false; try { ok = document.execCommand("copy"); } catch (e) {} done(ok); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(code.textContent).then(function(){ done(true); }, legacy);
      } else { legacy(); }
    });
  }
  sliders.forEach(function(s){ s.addEventListener("input", show); s.addEventListener("change", show); });
  var play = root.querySelector("button.lb-play");
  if (play) {
    var timer = null;
    play.addEventListener("click", function(){
      if (timer) { clearInterval(timer); timer = null; play.textContent = "\u25b6 Play"; return; }
      play.textContent = "\u23f8 Pause";
      timer = setInterval(function(){
        var s = sliders[0];
        s.value = (+s.value + 1) %% (+s.max + 1);
        show();
      }, data.interval);
    });
  }
  show();
})();
