/* The Modules tab: the header box ticks every row of the page (and shows ticked when
 * every row is); unticking a row also unticks "Apply to all N modules matching the
 * filter", so what is ticked is what will change.
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-modules-tab]");
  if (!form) {
    return;
  }
  var all = form.querySelector("[data-check-all]");
  var rows = form.querySelectorAll("input[name=modules]");
  var matching = form.querySelector("input[name=all_matching]");

  function sync() {
    var ticked = Array.prototype.every.call(rows, function (row) {
      return row.checked;
    });
    all.checked = ticked && rows.length > 0;
    if (!ticked && matching) {
      matching.checked = false;
    }
  }

  if (all) {
    all.addEventListener("change", function () {
      rows.forEach(function (row) {
        row.checked = all.checked;
      });
    });
    rows.forEach(function (row) {
      row.addEventListener("change", sync);
    });
  }
})();
