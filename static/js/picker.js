/* Search as you type for <input data-picker-url="..." list="X-options">:
 * after a short pause the input's text is sent as ?q= to the URL (a JSON answer
 * {results: [{value, label}], more: bool}); the matches fill the input's <datalist>,
 * and the element named by aria-describedby says how many there are.
 * Without this script the input still takes a typed name.
 */
(function () {
  "use strict";

  var PAUSE_MS = 200;

  function say(status, data, q) {
    if (!status) {
      return;
    }
    var n = data.results.length;
    if (!n) {
      status.textContent = q ? "Nothing matches “" + q + "”." : "Type part of a name to see matches.";
    } else if (data.more) {
      status.textContent = "The first " + n + " matches are offered: type more to narrow them.";
    } else {
      status.textContent = n === 1 ? "One match is offered." : n + " matches are offered.";
    }
  }

  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var status = document.getElementById(input.getAttribute("aria-describedby"));
    var timer = null;
    var asked = null;
    var pending = null;

    function show(data, q) {
      var options = data.results.map(function (item) {
        var option = document.createElement("option");
        option.value = item.value;
        if (item.label && item.label !== item.value) {
          option.label = item.label;
        }
        return option;
      });
      list.replaceChildren.apply(list, options);
      say(status, data, q);
    }

    function search() {
      var q = input.value.trim();
      if (q === asked) {
        return;
      }
      asked = q;
      if (pending) {
        pending.abort();
      }
      pending = new AbortController();
      var url = new URL(input.getAttribute("data-picker-url"), window.location.href);
      url.searchParams.set("q", q);
      fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: pending.signal
      })
        .then(function (response) {
          return response.ok ? response.json() : Promise.reject(response.status);
        })
        .then(function (data) {
          show(data, q);
        })
        .catch(function () {
          asked = null; /* ask again on the next keystroke */
        });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, PAUSE_MS);
    });
    input.addEventListener("focus", search);
  }

  document.querySelectorAll("input[data-picker-url]").forEach(function (input) {
    if (input.getAttribute("data-picker-url") && input.getAttribute("list")) {
      attach(input);
    }
  });
})();
