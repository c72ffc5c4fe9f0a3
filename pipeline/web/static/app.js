// Keyboard shortcuts for reviewers. Progressive: every action is also a plain link or form.
(function () {
  "use strict";
  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT");
  }
  function click(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  }
  document.addEventListener("keydown", function (event) {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    var handled = false;
    if (/^[1-9]$/.test(key)) {
      handled = click('[data-key="' + key + '"]');
    } else if (key === "j") {
      handled = click("[data-next]");
    } else if (key === "k") {
      handled = click("[data-prev]");
    } else if (key === "u") {
      handled = click("[data-undo]");
    } else if (key === "?") {
      var help = document.getElementById("help");
      if (help) { help.hidden = !help.hidden; handled = true; }
    } else if (key === "Escape") {
      var h = document.getElementById("help");
      if (h && !h.hidden) { h.hidden = true; handled = true; }
    }
    if (handled) { event.preventDefault(); }
  });
})();
