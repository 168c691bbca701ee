// Safety stock by rule: choosing a kind, a region, a state or locations (or typing a number) ticks the option
// it belongs to, so the rule applies where the planner pointed. The server refuses a mismatch all the same.
document.addEventListener("change", function (event) {
  var pick = event.target.closest(".pick");
  if (!pick) { return; }
  var option = pick.previousElementSibling && pick.previousElementSibling.querySelector("input[type=radio]");
  if (option) { option.checked = true; }
});
document.addEventListener("input", function (event) {
  var pick = event.target.closest(".pick");
  if (!pick || event.target.type !== "number") { return; }
  var option = pick.previousElementSibling && pick.previousElementSibling.querySelector("input[type=radio]");
  if (option) { option.checked = true; }
});
