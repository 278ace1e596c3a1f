// The notice page: print and copy the push text. The page works without it.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function copyText(el, button) {
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied-label") || label;
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(el.value || el.textContent).then(done, function () { el.select(); });
    } else {  // plain http on a station LAN: select the text and use the old command
      el.focus();
      el.select();
      try { if (document.execCommand("copy")) done(); } catch (e) { /* the text stays selected */ }
    }
  }

  onReady(function () {
    document.querySelectorAll("[data-notice-print]").forEach(function (btn) {
      btn.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("[data-copy-target]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var el = document.getElementById(btn.getAttribute("data-copy-target"));
        if (el) copyText(el, btn);
      });
    });
  });
})();
