// Small behaviours that need no framework. No inline scripts anywhere (the CSP forbids them).
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]")) {
    event.target.form.submit();
  }
});
// A form that records something is sent once: after the first submit its buttons are disabled until the next
// page (the server also refuses a repeat of the same form: oms.once). HTMX forms manage their own requests.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post" || form.hasAttribute("hx-post")) {
    return;
  }
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  // after this tick, so the clicked button's name and value still go with the form
  setTimeout(function () {
    form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]").forEach(function (b) {
      if (!b.disabled) { b.disabled = true; b.dataset.onceDisabled = "1"; }
    });
  }, 0);
});
// Back to a page from the browser's cache: its forms may be sent again.
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) { return; }
  document.querySelectorAll("form[data-sent]").forEach(function (form) {
    delete form.dataset.sent;
    form.querySelectorAll("[data-once-disabled]").forEach(function (b) {
      b.disabled = false;
      delete b.dataset.onceDisabled;
    });
  });
});
