/* luckbook: make every sidebar toggle work.
 *
 * pydata-sphinx-theme and sphinx-book-theme bind their click handlers to the *first*
 * `.primary-toggle` / `.secondary-toggle` of the page (document.querySelector). With Jupyter
 * Book 1.x the first one is a hidden duplicate in the theme's header, so the visible buttons
 * (the article header's "Toggle primary sidebar", and the toggles on a phone) did nothing.
 * Here each other toggle forwards its click to the first, whose handlers open the dialog on
 * a narrow screen and collapse the sidebar on a wide one.
 */
(function () {
  "use strict";
  function forward(selector) {
    var all = document.querySelectorAll(selector);
    if (all.length < 2) return;
    var first = all[0];
    for (var i = 1; i < all.length; i++) {
      all[i].addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        first.click();
      });
    }
  }
  function init() {
    forward(".primary-toggle");
    forward(".secondary-toggle");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
