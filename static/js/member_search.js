/* Search as you type over an infrastructure's members, without listing them all.
 *
 *   <input list="some-datalist" data-member-search="/url/of/json/">
 *
 * After a short pause in typing, asks the URL with ?q=<text> and fills the input's
 * <datalist> with the usernames it answers ({results: [{username, email}]}). Without
 * JavaScript the field still takes a typed username.
 */
(function () {
  "use strict";

  var PAUSE_MS = 200;

  function setup(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var url = input.getAttribute("data-member-search");
    var timer = null;
    var asked = null;

    function fill(results) {
      list.textContent = "";
      results.forEach(function (member) {
        var option = document.createElement("option");
        option.value = member.username;
        if (member.email) {
          option.label = member.email;
        }
        list.appendChild(option);
      });
    }

    function search() {
      var text = input.value.trim();
      if (text === asked) {
        return;
      }
      asked = text;
      fetch(url + "?q=" + encodeURIComponent(text), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (body) {
          if (asked === text) {
            fill(body.results || []);
          }
        })
        .catch(function () { fill([]); });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, PAUSE_MS);
    });
    input.addEventListener("focus", search);
  }

  document.querySelectorAll("[data-member-search]").forEach(setup);
})();
