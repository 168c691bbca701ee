// Transfer page: count by scanning. "Count by scanning" sets every line to 0; then each scan (a handheld
// scanner types the EAN or SKU and presses Enter) adds one unit to its line, up to what the line allows, and
// says so. No inline scripts (CSP).
(function () {
  "use strict";

  function say(form, text, bad) {
    var out = form.querySelector("[data-scan-result]");
    out.textContent = text;
    out.className = bad ? "badge bad" : "badge ok";
  }

  document.addEventListener("click", function (event) {
    var start = event.target.closest("[data-count-start]");
    if (!start) { return; }
    var form = start.form;
    form.querySelectorAll("input[data-line]").forEach(function (input) { input.value = "0"; });
    var box = form.querySelector("[data-count-box]");
    box.hidden = false;
    start.hidden = true;
    box.querySelector("[data-count-scan]").focus();
  });

  document.addEventListener("keydown", function (event) {
    var field = event.target.closest("[data-count-scan]");
    if (!field || event.key !== "Enter") { return; }
    event.preventDefault(); // a scan must not submit the form
    var form = field.form;
    var code = field.value.trim().toUpperCase();
    field.value = "";
    if (!code) { return; }
    var line = null;
    form.querySelectorAll("input[data-line]").forEach(function (input) {
      if (input.dataset.sku.toUpperCase() === code || (input.dataset.ean && input.dataset.ean === code)) {
        line = input;
      }
    });
    if (!line) {
      say(form, field.dataset.unknown.replace("%s", code), true);
      return;
    }
    var most = parseInt(line.max, 10);
    var now = parseInt(line.value || "0", 10);
    if (now >= most) {
      say(form, line.dataset.sku + ": " + now + "/" + most + " · " + field.dataset.full, true);
      return;
    }
    line.value = String(now + 1);
    say(form, line.dataset.sku + ": " + (now + 1) + "/" + most, false);
  });
})();
