// Fulfilment pages: keep the scan field focused (a handheld scanner types into it and presses Enter),
// add package weight fields, print the label. No inline scripts (CSP).
(function () {
  "use strict";

  function focusScan() {
    var field = document.querySelector("[data-scan]");
    if (field && document.activeElement !== field) {
      field.focus();
      if (field.select) { field.select(); }
    }
  }

  document.addEventListener("DOMContentLoaded", focusScan);
  document.body.addEventListener("htmx:afterSwap", focusScan);
  document.body.addEventListener("htmx:afterSettle", focusScan);

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-package]");
    if (add) {
      var box = add.form.querySelector("[data-packages]");
      var input = document.createElement("input");
      input.type = "number";
      input.name = "weight";
      input.min = "1";
      input.inputMode = "numeric";
      input.setAttribute("aria-label", add.textContent.trim());
      box.appendChild(input);
      input.focus();
      return;
    }
    if (event.target.closest("[data-print]")) {
      window.print();
    }
  });
})();
