// Keyboard shortcuts for reviewers. Progressive: every action is also a plain link or form.
// On an item: 1-9 answer, j / k next / previous (right after an answer, k goes back to the
// item just answered, where u undoes it), Esc leaves the note box or closes the help, ? help.
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
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    if (typing(event)) {
      // Esc leaves the box (what was typed stays); the keys then work again.
      if (key === "Escape") { event.target.blur(); event.preventDefault(); }
      return;
    }
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
