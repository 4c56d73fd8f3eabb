/* Copy buttons: <button data-copy-target="#input-id">Copy</button>. */
(function () {
  "use strict";

  function fallbackCopy(input) {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch (err) {
      return false;
    }
  }

  function flash(button, text) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    window.setTimeout(function () {
      button.textContent = original;
    }, 1500);
  }

  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.querySelector(button.getAttribute("data-copy-target"));
      if (!input) {
        return;
      }
      var value = input.value || input.textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(
          function () { flash(button, "Copied"); },
          function () { flash(button, fallbackCopy(input) ? "Copied" : "Press Ctrl+C"); }
        );
      } else {
        flash(button, fallbackCopy(input) ? "Copied" : "Press Ctrl+C");
      }
    });
  });
})();
