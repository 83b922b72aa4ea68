// Tracker list: selection for bulk actions. The page works without it (the server
// checks everything); this only counts, highlights and hides what does not apply.
(function () {
  "use strict";
  var form = document.querySelector("[data-bulk-form]");
  if (!form) return;
  var all = document.querySelector("[data-select-all]");
  var checks = Array.prototype.slice.call(document.querySelectorAll("[data-row-check]"));
  var counter = form.querySelector("[data-selected-count]");
  var action = form.querySelector("[data-bulk-action]");
  var disposition = form.querySelector("[data-disposition-field]");
  var submit = form.querySelector("[data-bulk-submit]");
  var scopes = Array.prototype.slice.call(form.querySelectorAll("[data-scope]"));

  function scope() {
    var chosen = scopes.filter(function (radio) { return radio.checked; })[0];
    return chosen ? chosen.value : "selected";
  }

  function refresh() {
    var selected = checks.filter(function (box) { return box.checked; }).length;
    counter.textContent = String(selected);
    checks.forEach(function (box) {
      box.closest("tr").classList.toggle("selected", box.checked);
    });
    if (all) {
      all.checked = selected > 0 && selected === checks.length;
      all.indeterminate = selected > 0 && selected < checks.length;
    }
    if (selected > 0 && scope() !== "selected") {
      scopes[0].checked = true;
    }
    var ready = scope() === "filter" || selected > 0;
    submit.disabled = !ready;
    submit.setAttribute("aria-disabled", String(!ready));
    disposition.hidden = action.value !== "remove";
  }

  if (all) {
    all.addEventListener("change", function () {
      checks.forEach(function (box) { box.checked = all.checked; });
      refresh();
    });
  }
  checks.forEach(function (box) { box.addEventListener("change", refresh); });
  action.addEventListener("change", refresh);
  scopes.forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (radio.value === "filter") {
        checks.forEach(function (box) { box.checked = false; });
      }
      refresh();
    });
  });
  refresh();
})();
