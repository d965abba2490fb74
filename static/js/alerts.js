/**
 * Helpers of the alert and rule pages, each working on the page that has its elements:
 *
 * - the alert page (templates/alerts/detail.html): draws the overlay over the evidence
 *   frame from the JSON script "alert-overlay-data" ({overlay, region_colours}), with the
 *   drawing shared with the live wall (overlay.js);
 * - the rule form (templates/alerts/rule_form.html): shows only the parameter fields the
 *   chosen kind reads (each says so in data-kinds) and that kind's description (the JSON
 *   script "rule-kind-help"). Hidden fields keep their values; the server reads only the
 *   chosen kind's.
 *
 * Texts come from Django's JavaScript catalogue, loaded before this module.
 */

import { OverlayView } from "./overlay.js";

function alertOverlay() {
  const source = document.getElementById("alert-overlay-data");
  const canvas = document.getElementById("alert-overlay");
  const stage = document.getElementById("alert-stage");
  if (!source || !canvas || !stage) return;
  const data = JSON.parse(source.textContent);
  const view = new OverlayView(canvas, { regionColours: data.region_colours || {} });
  view.set(data.overlay);
  new ResizeObserver(() => view.resize()).observe(stage);
  stage.dataset.ready = "true";
}

function ruleForm() {
  const form = document.getElementById("rule-form");
  const kind = document.getElementById("id_kind");
  if (!form || !kind) return;
  const help = document.getElementById("kind-help");
  const helpSource = document.getElementById("rule-kind-help");
  const texts = helpSource ? JSON.parse(helpSource.textContent) : {};
  const params = [...form.querySelectorAll(".param[data-kinds]")];
  const none = document.getElementById("no-params");

  const show = () => {
    const chosen = kind.value;
    let own = 0;
    for (const param of params) {
      const kinds = param.dataset.kinds.split(" ");
      const visible = kinds.includes(chosen);
      param.hidden = !visible;
      // Parameters every kind reads (the time zone) do not make a kind "have parameters".
      if (visible && param.dataset.common !== "true") own += 1;
      const required = param.dataset.requiredFor.split(" ").includes(chosen);
      for (const input of param.querySelectorAll("input, select")) {
        if (input.type !== "checkbox") input.required = required;
      }
    }
    if (none) none.hidden = own > 0;
    if (help) help.textContent = texts[chosen] || "";
  };
  kind.addEventListener("change", show);
  show();
  form.dataset.ready = "true";
}

alertOverlay();
ruleForm();
