/**
 * Fence editor: draws and edits the regions (fences and zones) of one camera over its
 * latest frame, checks them the way the server does, and saves them through the regions
 * API (POST for a new region, PATCH for a changed one, DELETE).
 *
 * The page (templates/cameras/fence_editor.html) provides the elements by id and, in the
 * JSON script "fence-editor-data": regions, latest_frame_url, kinds (value, label, colour),
 * limits (per kind: min_points, max_points, max_regions, edge, rules, source) and
 * regions_api_url. Texts come from Django's JavaScript catalogue (gettext, ngettext,
 * interpolate), loaded before this module.
 *
 * Coordinates: a region's points are pixels of its frame, [[x, y], ...] with
 * 0 <= x <= frame_width - 1 (the centres of the first and last pixel columns). The canvas
 * lies exactly over the picture; a frame pixel x is drawn at (x + 0.5) * shown_width /
 * frame_width CSS pixels, and a click is rounded to the nearest whole pixel.
 */

import { fmt, gettext, sendJson } from "./common.js";
import { regionProblem, MIN_POINTS } from "./fence/checks.js";
import { FenceForm } from "./fence/form.js";

const DEFAULT_FRAME = [1280, 720];

const copyPoints = (points) => points.map(([x, y]) => [x, y]);

// --------------------------------------------------------------------------- the editor

/**
 * The editor's state (the region being edited, its history, what was saved), its edits
 * and saving; drawing, input and the form are the layers it extends (fence/*.js).
 */
class FenceEditor extends FenceForm {
  constructor(root, data) {
    super();
    this.root = root;
    this.cameraId = Number(root.dataset.camera);
    this.api = data.regions_api_url || "/api/regions/";
    this.kinds = new Map((data.kinds || []).map((kind) => [kind.value, kind]));
    this.limits = data.limits || {};
    this.regions = (data.regions || []).map((region) => ({
      ...region,
      points: copyPoints(region.points),
    }));
    this.frameWidth = Number(root.dataset.frameWidth) || DEFAULT_FRAME[0];
    this.frameHeight = Number(root.dataset.frameHeight) || DEFAULT_FRAME[1];

    const byId = (id) => document.getElementById(id);
    this.stage = byId("fence-stage");
    this.canvas = byId("fence-canvas");
    this.image = byId("fence-frame");
    this.context = this.canvas.getContext("2d");
    this.errorBox = byId("region-error");
    this.statusBox = byId("region-status");
    this.heading = byId("region-heading");
    this.nameInput = byId("region-name");
    this.kindSelect = byId("region-kind");
    this.kindSwatch = byId("region-kind-swatch");
    this.rulesList = byId("region-rules");
    this.countLine = byId("region-count");
    this.pointsList = byId("region-points");
    this.list = byId("region-list");
    this.buttons = {
      close: byId("region-close"),
      undo: byId("region-undo"),
      deletePoint: byId("region-delete-point"),
      discard: byId("region-discard"),
      save: byId("region-save"),
      remove: byId("region-delete"),
      create: byId("region-new"),
    };

    // The region being edited: {id, name, kind, points, closed, frameWidth, frameHeight,
    // browsing}; browsing is a new, empty region where a click may also pick a saved one.
    this.current = null;
    this.saved = null; // what the current region looked like when loaded or saved
    this.history = [];
    this.selected = -1;
    this.drag = null;
    this.hover = null;
    this.problem = null;
    this.checkLive = false;
    this.busy = false;
    this.pointerType = "mouse";
    this.size = { width: 0, height: 0 };

    this.bind();
    this.watchFrame();
    this.startNew({ browsing: this.regions.length > 0 });
    this.resize();
  }

  // ----------------------------------------------------------------------- state

  snapshot() {
    const { points, closed, kind } = this.current;
    return { points: copyPoints(points), closed, kind };
  }

  fingerprint() {
    const region = this.current;
    return JSON.stringify([region.name, region.kind, region.points, region.closed]);
  }

  isDirty() {
    if (!this.current) return false;
    if (this.saved === null) return this.current.points.length > 0;
    return this.fingerprint() !== this.saved;
  }

  pushHistory() {
    this.history.push(this.snapshot());
    if (this.history.length > 500) this.history.shift();
  }

  startNew({ browsing = false } = {}) {
    const kind = this.kindSelect.value || (this.kinds.keys().next().value ?? "fence");
    this.current = {
      id: null,
      name: "",
      kind,
      points: [],
      closed: false,
      frameWidth: this.frameWidth,
      frameHeight: this.frameHeight,
      browsing,
    };
    this.saved = null;
    this.history = [];
    this.selected = -1;
    this.checkLive = false;
    this.clearProblem();
    this.changed();
  }

  edit(region) {
    this.current = {
      id: region.id,
      name: region.name,
      kind: region.kind,
      points: copyPoints(region.points),
      closed: true,
      frameWidth: region.frame_width,
      frameHeight: region.frame_height,
      browsing: false,
    };
    this.saved = this.fingerprint();
    this.history = [];
    this.selected = -1;
    this.checkLive = false;
    this.clearProblem();
    this.say("");
    this.changed();
  }

  /** Leave the current region if it has no unsaved change, or if the user agrees to drop it. */
  mayLeave() {
    if (!this.isDirty()) return true;
    return window.confirm(gettext("Drop the unsaved changes of this region?"));
  }

  // ----------------------------------------------------------------------- edits

  addPoint(point) {
    this.pushHistory();
    this.current.browsing = false;
    this.current.points.push(point);
    this.selected = this.current.points.length - 1;
    this.changed();
  }

  insertPoint(edgeIndex, point) {
    this.pushHistory();
    this.current.points.splice(edgeIndex + 1, 0, point);
    this.selected = edgeIndex + 1;
    this.changed();
  }

  movePoint(index, point) {
    const old = this.current.points[index];
    if (old[0] === point[0] && old[1] === point[1]) return;
    this.current.points[index] = point;
    this.changed();
  }

  deletePoint() {
    if (this.selected < 0) {
      this.say(gettext("Select a point first: click it, then delete it."));
      return;
    }
    this.pushHistory();
    this.current.points.splice(this.selected, 1);
    if (this.current.points.length < MIN_POINTS) this.current.closed = false;
    this.selected = -1;
    this.changed();
  }

  closeOutline() {
    const count = this.current.points.length;
    if (this.current.closed) return;
    if (count < MIN_POINTS) {
      this.say(
        fmt(gettext("An outline needs at least %(minimum)s points to close; it has %(count)s."), {
          minimum: MIN_POINTS,
          count,
        })
      );
      return;
    }
    this.pushHistory();
    this.current.closed = true;
    this.selected = -1;
    this.changed();
  }

  setKind(kind) {
    if (kind === this.current.kind) return;
    this.pushHistory();
    this.current.kind = kind;
    this.changed();
  }

  nudge(dx, dy) {
    if (this.selected < 0) return;
    const [x, y] = this.current.points[this.selected];
    const point = this.clampToFrame([x + dx, y + dy]);
    if (point[0] === x && point[1] === y) return;
    this.pushHistory();
    this.movePoint(this.selected, point);
  }

  undo() {
    const previous = this.history.pop();
    if (!previous) {
      this.say(gettext("Nothing to undo."));
      return;
    }
    this.current.points = previous.points;
    this.current.closed = previous.closed;
    this.current.kind = previous.kind;
    this.selected = -1;
    this.say("");
    this.changed();
  }

  discard() {
    if (!this.isDirty()) return;
    const id = this.current.id;
    if (id === null) {
      this.pushHistory();
      this.current.points = [];
      this.current.closed = false;
      this.selected = -1;
      this.changed();
      return;
    }
    const region = this.regions.find((item) => item.id === id);
    if (region) this.edit(region);
  }

  // ----------------------------------------------------------------------- saving

  setBusy(busy) {
    this.busy = busy;
    this.root.setAttribute("aria-busy", busy ? "true" : "false");
    this.updateControls();
  }

  async save() {
    if (this.busy) return;
    const region = this.current;
    region.name = this.nameInput.value.trim();
    const problem = regionProblem(region, this.regions, this.limits);
    if (problem) {
      this.checkLive = true;
      this.showProblem(problem);
      if (problem.field === "name") this.nameInput.focus();
      this.say("");
      return;
    }
    if (!region.closed) {
      this.pushHistory();
      region.closed = true;
    }
    const body = {
      camera: this.cameraId,
      name: region.name,
      kind: region.kind,
      points: copyPoints(region.points),
      frame_width: region.frameWidth,
      frame_height: region.frameHeight,
    };
    const creating = region.id === null;
    const url = creating ? this.api : this.api + region.id + "/";
    this.clearProblem();
    this.say(gettext("Saving…"));
    this.setBusy(true);
    let response;
    let answer = null;
    try {
      response = await sendJson(creating ? "POST" : "PATCH", url, body);
      answer = await response.json().catch(() => null);
    } catch {
      this.setBusy(false);
      this.say("");
      this.showProblem({
        message: gettext("The server could not be reached; nothing was saved. Try again."),
      });
      return;
    }
    this.setBusy(false);
    if (!response.ok || !answer) {
      this.say("");
      this.showProblem({ message: this.refusal(response, answer) });
      return;
    }
    const saved = {
      id: answer.id,
      name: answer.name,
      kind: answer.kind,
      points: copyPoints(answer.points),
      frame_width: answer.frame_width,
      frame_height: answer.frame_height,
    };
    const index = this.regions.findIndex((item) => item.id === saved.id);
    if (index >= 0) this.regions[index] = saved;
    else this.regions.push(saved);
    this.regions.sort((a, b) => a.name.localeCompare(b.name));
    Object.assign(this.current, {
      id: saved.id,
      name: saved.name,
      kind: saved.kind,
      points: copyPoints(saved.points),
      closed: true,
      frameWidth: saved.frame_width,
      frameHeight: saved.frame_height,
    });
    this.saved = this.fingerprint();
    this.checkLive = false;
    this.say(fmt(gettext("Saved “%(name)s”."), { name: saved.name }));
    this.changed();
  }

  /** The server's reasons for refusing, one sentence each, for the error box. */
  refusal(response, answer) {
    const reasons = [];
    const collect = (value) => {
      if (typeof value === "string") reasons.push(value);
      else if (Array.isArray(value)) value.forEach(collect);
      else if (value && typeof value === "object") Object.values(value).forEach(collect);
    };
    if (answer && typeof answer === "object") collect(answer);
    if (reasons.length) return reasons.join(" ");
    return fmt(gettext("The server refused the region (HTTP %(status)s); nothing was saved."), {
      status: response.status,
    });
  }

  async remove() {
    const region = this.current;
    if (this.busy || region.id === null) return;
    const question = fmt(gettext("Delete the region “%(name)s”? This cannot be undone."), {
      name: region.name,
    });
    if (!window.confirm(question)) return;
    this.setBusy(true);
    let response;
    try {
      response = await sendJson("DELETE", this.api + region.id + "/");
    } catch {
      this.setBusy(false);
      this.showProblem({
        message: gettext("The server could not be reached; nothing was deleted. Try again."),
      });
      return;
    }
    this.setBusy(false);
    if (!response.ok && response.status !== 404) {
      const answer = await response.json().catch(() => null);
      this.showProblem({ message: this.refusal(response, answer) });
      return;
    }
    this.regions = this.regions.filter((item) => item.id !== region.id);
    this.startNew({ browsing: this.regions.length > 0 });
    this.say(fmt(gettext("Deleted “%(name)s”."), { name: region.name }));
  }

  /** After every change: re-check what was refused, then refresh the drawing and the form. */
  changed() {
    const region = this.current;
    if (this.checkLive || (region.closed && region.points.length >= MIN_POINTS)) {
      const problem = regionProblem(region, this.regions, this.limits, { requireName: false });
      if (problem) this.showProblem(problem);
      else this.clearProblem();
    } else if (this.problem) {
      this.clearProblem();
    }
    this.root.dataset.points = JSON.stringify(region.points);
    this.root.dataset.closed = region.closed ? "true" : "false";
    this.root.dataset.regionId = region.id === null ? "" : String(region.id);
    this.renderForm();
    this.renderList();
    this.draw();
  }
}

function start() {
  const root = document.getElementById("fence-editor");
  const source = document.getElementById("fence-editor-data");
  if (!root || !source) return;
  const editor = new FenceEditor(root, JSON.parse(source.textContent));
  root.dataset.ready = "true";
  return editor;
}

start();
