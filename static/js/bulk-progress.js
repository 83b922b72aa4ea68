// Bulk job page: poll the job's progress endpoint and update the bar without reloading.
(function () {
  "use strict";
  var box = document.querySelector("[data-job]");
  if (!box) return;
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("[data-progress-bar]");
  var fill = bar.firstElementChild;
  var errorsSection = document.querySelector("[data-job-errors-section]");
  var errorsBody = document.querySelector("[data-job-errors]");
  var moreErrors = document.querySelector("[data-more-errors]");
  var delay = 1000;
  var started = Date.now();
  // A job nobody picks up stays queued: after this long, say what it is waiting for.
  var QUEUED_HINT_AFTER_MS = 15000;

  function text(selector, value) {
    var node = box.querySelector(selector);
    if (node) node.textContent = value;
  }
  function number(value) { return Number(value).toLocaleString("en-US"); }

  function cell(content, className) {
    var td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    if (className) td.className = className;
    return td;
  }

  function renderErrors(progress) {
    errorsBody.textContent = "";
    progress.errors.forEach(function (error) {
      var row = document.createElement("tr");
      row.setAttribute("data-error-for", error.id || "");
      var id;
      if (error.url) {
        id = document.createElement("span");
        var link = document.createElement("a");
        link.href = error.url;
        link.textContent = error.target || error.id;
        var sub = document.createElement("div");
        sub.className = "sub mono";
        sub.textContent = error.id;
        id.appendChild(link);
        id.appendChild(sub);
      } else {
        id = document.createElement("span");
        id.className = "sub";
        id.textContent = "—";
      }
      var code = document.createElement("code");
      code.textContent = error.errorCode;
      row.appendChild(cell(id));
      row.appendChild(cell(error.message));
      row.appendChild(cell(code));
      errorsBody.appendChild(row);
    });
    errorsSection.hidden = progress.errors.length === 0;
    moreErrors.textContent = progress.more_errors ? "and " + number(progress.more_errors) + " more" : "";
  }

  function render(progress) {
    fill.style.width = progress.percent + "%";
    bar.setAttribute("aria-valuenow", String(progress.percent));
    bar.classList.toggle("done", progress.done && progress.status !== "failed");
    bar.classList.toggle("failed", progress.status === "failed");
    var status = box.querySelector("[data-job-status]");
    status.setAttribute("data-job-status", progress.status);
    status.textContent = progress.status.charAt(0).toUpperCase() + progress.status.slice(1);
    text("[data-job-succeeded]", number(progress.succeeded));
    text("[data-job-total]", number(progress.total));
    text("[data-job-failed]", number(progress.failed));
    text("[data-job-percent]", progress.percent + "%");
    renderErrors(progress);
    if (progress.status === "queued" && Date.now() - started > QUEUED_HINT_AFTER_MS) {
      text("[data-job-message]", "Still waiting for a background worker to start this job. " +
        "If it stays queued, ask your administrator to check that the worker is running.");
    }
    if (progress.done) {
      text("[data-job-message]", progress.status === "failed"
        ? "The job stopped; trackers it had not finished were put back as they were."
        : "Finished.");
      box.setAttribute("data-job-done", "true");
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (progress) {
        render(progress);
        if (!progress.done) setTimeout(poll, delay);
      })
      .catch(function () {
        text("[data-job-message]", "Lost contact with the server; retrying…");
        delay = Math.min(delay * 2, 10000);
        setTimeout(poll, delay);
      });
  }

  var initial = box.querySelector("[data-job-status]").getAttribute("data-job-status");
  if (initial === "done" || initial === "failed") {
    box.setAttribute("data-job-done", "true");
  } else {
    setTimeout(poll, delay);
  }
})();
