/* Upload-and-publish with a real progress bar.
 *
 * Sends the form's multipart body with XMLHttpRequest so `upload.onprogress` can drive
 * the Bootstrap progress bar. The view answers JSON: {redirect} on success, or
 * {error, detail[, help]} with the error's status. Without JavaScript the form posts
 * normally and the view redirects or re-renders with a message.
 */
(function () {
  "use strict";

  // How long the finished bar stays on screen before opening the module page.
  var DONE_PAUSE_MS = 600;

  function setup(form) {
    var progress = form.querySelector("[data-upload-progress]");
    var bar = progress.querySelector(".progress-bar");
    var status = form.querySelector("[data-upload-status]");
    var errorBox = form.querySelector("[data-upload-error]");
    var submit = form.querySelector("[data-upload-submit]");
    var fileInput = form.querySelector("input[type=file]");

    function setProgress(percent) {
      var value = Math.max(0, Math.min(100, Math.round(percent)));
      bar.style.width = value + "%";
      bar.textContent = value + "%";
      progress.setAttribute("aria-valuenow", String(value));
    }

    function say(text) {
      status.textContent = text;
      status.classList.toggle("d-none", !text);
    }

    function fail(detail, helpUrl) {
      progress.classList.add("d-none");
      errorBox.textContent = "";
      var heading = document.createElement("strong");
      heading.className = "d-block";
      heading.textContent = "Not published.";
      errorBox.appendChild(heading);
      errorBox.appendChild(document.createTextNode(detail));
      if (helpUrl) {
        var link = document.createElement("a");
        link.href = helpUrl;
        link.className = "alert-link d-block mt-1";
        link.textContent = "What does this mean and what can I do?";
        errorBox.appendChild(link);
      }
      errorBox.classList.remove("d-none");
      say("");
      submit.disabled = false;
    }

    form.addEventListener("submit", function (event) {
      if (!window.XMLHttpRequest || !window.FormData) {
        return; // plain POST
      }
      event.preventDefault();
      errorBox.classList.add("d-none");
      errorBox.textContent = "";
      if (!fileInput || !fileInput.files.length) {
        fail("Choose a module package (.zip) to upload.");
        return;
      }
      var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action") || window.location.href);
      xhr.setRequestHeader("X-CSRFToken", token);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("Accept", "application/json");

      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable && e.total > 0) {
          setProgress((e.loaded * 100) / e.total);
        }
      };
      xhr.upload.onload = function () {
        setProgress(100);
        say("Uploaded. Checking the package and publishing…");
      };
      xhr.onload = function () {
        var data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (err) {
          data = null;
        }
        if (xhr.status >= 200 && xhr.status < 300 && data && data.redirect) {
          setProgress(100);
          bar.classList.remove("progress-bar-animated", "progress-bar-striped");
          bar.classList.add("bg-success");
          say("Published. Opening the module…");
          window.setTimeout(function () {
            window.location.assign(data.redirect);
          }, DONE_PAUSE_MS);
          return;
        }
        var detail = data && data.detail ? data.detail : "The server answered " + xhr.status + ". Try again.";
        fail(detail, data && data.help);
      };
      xhr.onerror = function () {
        fail("The upload did not reach the server. Check your connection and try again.");
      };

      bar.classList.remove("bg-success");
      bar.classList.add("progress-bar-striped", "progress-bar-animated");
      progress.classList.remove("d-none");
      setProgress(0);
      say("Uploading " + fileInput.files[0].name + "…");
      submit.disabled = true;
      xhr.send(new FormData(form));
    });
  }

  document.querySelectorAll("form[data-upload-form]").forEach(setup);
})();
