// The analysis form of a camera: offers only the APIs of the chosen vendor account, and
// shows the projected calls and CNY per month as the account, API or interval change
// (GET /cameras/projection/?account=&api=&interval=).

import { language } from "./common.js";

const form = document.getElementById("analysis-form");

if (form) {
  const account = form.querySelector("[name=account]");
  const api = form.querySelector("[name=api]");
  const interval = form.querySelector("[name=interval]");
  const out = (name) => form.querySelector(`[data-projection="${name}"]`);
  const apisByAccount = JSON.parse(document.getElementById("account-apis").textContent);
  const numbers = new Intl.NumberFormat(language);
  const money = new Intl.NumberFormat(language, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  let pending = null;
  let latest = 0;

  function offerAccountApis() {
    const offered = apisByAccount[account.value];
    for (const option of api.options) {
      const allowed = !offered || option.value === "" || offered.includes(option.value);
      option.hidden = !allowed;
      option.disabled = !allowed;
    }
    if (api.selectedOptions.length && api.selectedOptions[0].disabled) {
      const first = [...api.options].find((option) => !option.disabled);
      if (first) api.value = first.value;
    }
  }

  function show(data) {
    out("error").hidden = true;
    out("calls").textContent = numbers.format(data.calls_per_month);
    out("cost").textContent =
      data.cost_per_month === null ? "—" : money.format(Number(data.cost_per_month));
    out("basis").textContent = data.basis;
  }

  function showErrors(errors) {
    out("calls").textContent = "—";
    out("cost").textContent = "—";
    out("basis").textContent = "";
    out("error").textContent = Object.values(errors).join(" ");
    out("error").hidden = false;
  }

  async function refresh() {
    if (!account.value || !api.value || !interval.value) return;
    const request = ++latest;
    const query = new URLSearchParams({
      account: account.value,
      api: api.value,
      interval: interval.value,
    });
    try {
      const response = await fetch(`${form.dataset.projectionUrl}?${query}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const data = await response.json();
      if (request !== latest) return;
      if (response.ok) show(data);
      else showErrors(data.errors || {});
    } catch (error) {
      if (request === latest) showErrors({ network: String(error) });
    }
  }

  function later() {
    clearTimeout(pending);
    pending = setTimeout(refresh, 250);
  }

  account.addEventListener("change", () => {
    offerAccountApis();
    later();
  });
  api.addEventListener("change", later);
  interval.addEventListener("input", later);
  offerAccountApis();
}
