// The bill page: the month picker shows the chosen month at once, and finalizing asks
// for confirmation with the page's own (translated) question.
"use strict";

(function () {
  const picker = document.querySelector("form.month-picker[data-auto-submit]");
  if (picker) {
    const input = picker.querySelector("input[type=month]");
    input.addEventListener("change", function () {
      if (/^\d{4}-\d{2}$/.test(input.value)) picker.submit();
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
