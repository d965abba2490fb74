/**
 * The fence editor's form and messages: the heading, name, kind and its vendor rules, the
 * point list, the buttons' states, the list of the camera's regions, the status line and
 * the error box. A layer of the editor (see view.js).
 */

import { fmt, gettext, ngettext } from "../common.js";
import { limitsOf, MIN_POINTS, number } from "./checks.js";
import { FenceInput } from "./input.js";

export class FenceForm extends FenceInput {
  // ----------------------------------------------------------------------- messages

  say(text) {
    this.statusBox.textContent = text;
  }

  showProblem(problem) {
    this.problem = problem;
    this.errorBox.textContent = problem.message;
    this.errorBox.hidden = false;
    this.draw();
  }

  clearProblem() {
    this.problem = null;
    this.errorBox.textContent = "";
    this.errorBox.hidden = true;
  }

  renderForm() {
    const region = this.current;
    if (region.id === null) this.heading.textContent = gettext("New region");
    else {
      this.heading.textContent = fmt(gettext("Editing “%(name)s”"), { name: this.savedName() });
    }
    if (document.activeElement !== this.nameInput) this.nameInput.value = region.name;
    this.kindSelect.value = region.kind;
    this.kindSwatch.style.setProperty("--kind-colour", this.colourOf(region.kind));

    const limits = limitsOf(this.limits, region.kind);
    this.rulesList.replaceChildren(
      ...limits.rules.map((rule) => {
        const item = document.createElement("li");
        item.textContent = rule;
        return item;
      })
    );
    const count = region.points.length;
    let line = fmt(ngettext("%(count)s point", "%(count)s points", count), { count });
    if (!region.closed && count > 0) line += " · " + gettext("outline open");
    if (count === 0) {
      line = region.browsing
        ? gettext("Click a region to edit it, or click elsewhere on the picture to start a new one.")
        : gettext("Click on the picture to place the first point.");
    }
    this.countLine.textContent = line;

    this.pointsList.replaceChildren(
      ...region.points.map(([x, y], index) => {
        const item = document.createElement("li");
        item.textContent = number(x) + ", " + number(y);
        if (index === this.selected) item.className = "selected";
        return item;
      })
    );
    this.updateControls();
  }

  savedName() {
    const region = this.regions.find((item) => item.id === this.current.id);
    return region ? region.name : this.current.name;
  }

  updateControls() {
    const region = this.current;
    if (!region) return;
    const { buttons } = this;
    buttons.close.disabled = region.closed || region.points.length < MIN_POINTS;
    buttons.undo.disabled = this.history.length === 0;
    buttons.deletePoint.disabled = this.selected < 0;
    buttons.discard.disabled = !this.isDirty();
    buttons.save.disabled = this.busy || region.points.length === 0;
    buttons.remove.disabled = this.busy || region.id === null;
    buttons.remove.hidden = region.id === null;
  }

  renderList() {
    if (!this.regions.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = gettext("No region is drawn on this camera yet.");
      this.list.replaceChildren(empty);
      return;
    }
    this.list.replaceChildren(
      ...this.regions.map((region) => {
        const item = document.createElement("li");
        item.dataset.regionId = String(region.id);
        const button = document.createElement("button");
        button.type = "button";
        button.className = "fe-region";
        if (region.id === this.current.id) button.setAttribute("aria-current", "true");
        const swatch = document.createElement("span");
        swatch.className = "fe-swatch";
        swatch.style.setProperty("--kind-colour", this.colourOf(region.kind));
        const name = document.createElement("span");
        name.className = "fe-name";
        name.textContent = region.name;
        const detail = document.createElement("span");
        detail.className = "muted";
        const count = region.points.length;
        detail.textContent =
          this.labelOf(region.kind) +
          " · " +
          fmt(ngettext("%(count)s point", "%(count)s points", count), { count });
        button.append(swatch, name, detail);
        button.addEventListener("click", () => {
          if (region.id === this.current.id || !this.mayLeave()) return;
          this.edit(region);
        });
        item.append(button);
        return item;
      })
    );
  }
}
