// anshang pages: small progressive help. Every page works without it; the server checks
// everything again. No inline script anywhere (the CSP forbids it).
(function () {
  "use strict";

  // Validation messages in the page's language (the form carries them as data-msg-*).
  function message(form, input) {
    var v = input.validity, d = form.dataset;
    if (v.valueMissing) return d.msgRequired || "";
    if (v.tooLong) return d.msgTooLong || "";
    if (v.typeMismatch && input.type === "email") return d.msgEmail || "";
    return "";
  }

  function checkFiles(form, input) {
    var max = parseInt(input.dataset.maxBytes || "0", 10), count = parseInt(input.dataset.maxCount || "0", 10);
    var files = input.files || [];
    if (count && files.length > count) return form.dataset.msgTooManyFiles || "";
    for (var i = 0; i < files.length; i++) if (max && files[i].size > max) return (form.dataset.msgFileTooLarge || "") + " " + files[i].name;
    return "";
  }

  // Sections that fold away on a narrow screen (the inbox's filters), unless something in them
  // is in use; open everywhere without the script.
  if (window.matchMedia("(max-width: 40rem)").matches) {
    document.querySelectorAll("details[data-fold-narrow]:not([data-keep-open])").forEach(function (d) { d.open = false; });
  }

  // Print buttons: hidden without the script, which is what they need.
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  document.querySelectorAll("form[data-validate]").forEach(function (form) {
    form.querySelectorAll("input, select, textarea").forEach(function (input) {
      input.addEventListener("invalid", function () { input.setCustomValidity(""); var m = message(form, input); if (m) input.setCustomValidity(m); });
      input.addEventListener("input", function () { input.setCustomValidity(""); });
      if (input.type === "file") input.addEventListener("change", function () { input.setCustomValidity(checkFiles(form, input)); });
    });
  });

  // "Select all / none" for a list of checkboxes (the round form's departments).
  document.querySelectorAll("[data-select-all]").forEach(function (bar) {
    var box = bar.closest("fieldset");
    bar.hidden = false;
    bar.querySelectorAll("button[data-check]").forEach(function (button) {
      button.addEventListener("click", function () {
        var on = button.dataset.check === "all";
        box.querySelectorAll("input[type=checkbox]").forEach(function (c) { c.checked = on; });
      });
    });
  });

  // Characters left under long text boxes.
  document.querySelectorAll("textarea[data-counter][maxlength]").forEach(function (area) {
    var out = document.createElement("p"); out.className = "counter"; out.setAttribute("aria-live", "polite");
    var max = parseInt(area.getAttribute("maxlength"), 10);
    function update() { out.textContent = area.value.length + " / " + max; }
    area.insertAdjacentElement("afterend", out); area.addEventListener("input", update); update();
  });

  // Ask before destructive buttons.
  document.querySelectorAll("button[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) { if (!window.confirm(b.dataset.confirm)) e.preventDefault(); });
  });

  // Ballot codes: upper case, grouped by four as typed or pasted (the server accepts any form).
  document.querySelectorAll("input[data-code]").forEach(function (input) {
    input.addEventListener("input", function () {
      var raw = input.value.toUpperCase().replace(/[^0-9A-Z]/g, "");
      var grouped = raw.replace(/(.{4})(?=.)/g, "$1-");
      if (grouped !== input.value) input.value = grouped;
    });
  });

  // Forms that must reach the server once (a ballot: its receipt is shown only to the first
  // answer): a second submit while the first is on its way is ignored.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    var sent = false;
    form.addEventListener("submit", function (e) { if (sent) { e.preventDefault(); return; } sent = true; });
    // Back to this page from the browser's history: it may be sent again.
    window.addEventListener("pageshow", function () { sent = false; });
  });

  // Move focus to the error summary so screen readers announce it.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
