/* Small behaviours templates ask for with data-* attributes, instead of inline handlers
 * (the Content-Security-Policy allows no inline script):
 *   <input type="checkbox" data-check-all="CSS selector">  ticks / unticks those boxes
 *   <select data-autosubmit>                               submits its form on change
 *   <form data-confirm="Question?">                        asks before submitting
 */
(function () {
  "use strict";

  document.querySelectorAll("[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll(box.getAttribute("data-check-all")).forEach(function (other) {
        other.checked = box.checked;
      });
    });
  });

  document.querySelectorAll("[data-autosubmit]").forEach(function (field) {
    field.addEventListener("change", function () {
      if (field.form) {
        field.form.submit();
      }
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
})();
