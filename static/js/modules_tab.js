/* The Modules tab. site.js ticks every row when the header box is ticked; this keeps the
 * header box true to the rows, and unticking a row also unticks "Apply to all N modules
 * matching the filter", so what is ticked is what will change.
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
    if (all) {
      all.checked = ticked && rows.length > 0;
    }
    if (!ticked && matching) {
      matching.checked = false;
    }
  }

  rows.forEach(function (row) {
    row.addEventListener("change", sync);
  });
  if (all) {
    all.addEventListener("change", function () {
      window.setTimeout(sync, 0); /* after site.js has ticked the rows */
    });
  }
})();
