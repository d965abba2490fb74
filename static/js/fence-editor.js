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

const gettext = typeof window.gettext === "function" ? window.gettext : (text) => text;
const ngettext =
  typeof window.ngettext === "function"
    ? window.ngettext
    : (singular, plural, count) => (count === 1 ? singular : plural);
const interpolate =
  typeof window.interpolate === "function"
    ? window.interpolate
    : (format, values) => format.replace(/%\((\w+)\)s/g, (match, key) => String(values[key]));

const MIN_POINTS = 3;
const MAX_POINTS = 100;
const DEFAULT_FRAME = [1280, 720];
const FALLBACK_COLOUR = "#5d6778";
// How far from a point or an edge a press still hits it, in CSS pixels.
const HIT_RADIUS = { mouse: 8, pen: 12, touch: 20 };
// A press that moves less than this is a click, not a drag.
const DRAG_THRESHOLD = 3;

const fmt = (format, values) => interpolate(format, values, true);
const copyPoints = (points) => points.map(([x, y]) => [x, y]);
const number = (value) => String(Math.round(value * 100) / 100);

// --------------------------------------------------------------------------- geometry

function cross(o, a, b) {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

function withinBox(a, b, p) {
  return (
    Math.min(a[0], b[0]) <= p[0] &&
    p[0] <= Math.max(a[0], b[0]) &&
    Math.min(a[1], b[1]) <= p[1] &&
    p[1] <= Math.max(a[1], b[1])
  );
}

/** Whether the closed segments p1-p2 and q1-q2 share a point (crossing, touching, overlapping). */
export function segmentsIntersect(p1, p2, q1, q2) {
  const d1 = Math.sign(cross(q1, q2, p1));
  const d2 = Math.sign(cross(q1, q2, p2));
  const d3 = Math.sign(cross(p1, p2, q1));
  const d4 = Math.sign(cross(p1, p2, q2));
  if (d1 * d2 < 0 && d3 * d4 < 0) return true;
  return (
    (d1 === 0 && withinBox(q1, q2, p1)) ||
    (d2 === 0 && withinBox(q1, q2, p2)) ||
    (d3 === 0 && withinBox(p1, p2, q1)) ||
    (d4 === 0 && withinBox(p1, p2, q2))
  );
}

function inside(value, side, edge) {
  const last = side - 1;
  if (edge === "strict") return value > 0 && value < last;
  if (edge === "from_one") return value >= 1 && value <= last;
  return value >= 0 && value <= last;
}

/** The first point outside the allowed part of a width x height frame, as a problem. */
export function edgeProblem(points, width, height, edge = "frame") {
  for (let index = 0; index < points.length; index += 1) {
    const [x, y] = points[index];
    if (inside(x, width, edge) && inside(y, height, edge)) continue;
    const values = {
      index: index + 1,
      x: number(x),
      y: number(y),
      width,
      height,
      last_x: width - 1,
      last_y: height - 1,
    };
    let message;
    if (edge === "strict") {
      message = gettext(
        "Point %(index)s (%(x)s, %(y)s) touches or crosses the edge of the %(width)s×%(height)s picture; this region must lie strictly inside it."
      );
    } else if (edge === "from_one") {
      message = gettext(
        "Point %(index)s (%(x)s, %(y)s) is outside 1..%(last_x)s × 1..%(last_y)s: crowd counting measures the %(width)s×%(height)s picture from pixel 1."
      );
    } else {
      message = gettext(
        "Point %(index)s (%(x)s, %(y)s) is outside the %(width)s×%(height)s picture (x from 0 to %(last_x)s, y from 0 to %(last_y)s)."
      );
    }
    return { message: fmt(message, values), points: [index] };
  }
  return null;
}

function twiceArea(points) {
  let sum = 0;
  for (let i = 0; i < points.length; i += 1) {
    const a = points[i];
    const b = points[(i + 1) % points.length];
    sum += a[0] * b[1] - b[0] * a[1];
  }
  return sum;
}

/** Why the closed outline through points is not a simple polygon with an area, or null. */
export function shapeProblem(points) {
  const seen = new Map();
  for (let i = 0; i < points.length; i += 1) {
    const key = points[i][0] + "," + points[i][1];
    if (seen.has(key)) {
      return {
        message: fmt(gettext("Points %(first)s and %(second)s are the same point."), {
          first: seen.get(key) + 1,
          second: i + 1,
        }),
        points: [seen.get(key), i],
      };
    }
    seen.set(key, i);
  }
  const count = points.length;
  for (let i = 0; i < count; i += 1) {
    const a = points[i];
    const b = points[(i + 1) % count];
    const c = points[(i + 2) % count];
    const dot = (a[0] - b[0]) * (c[0] - b[0]) + (a[1] - b[1]) * (c[1] - b[1]);
    if (cross(a, b, c) === 0 && dot > 0) {
      return {
        message: fmt(gettext("The outline turns back on itself at point %(index)s."), {
          index: ((i + 1) % count) + 1,
        }),
        points: [(i + 1) % count],
      };
    }
    for (let j = i + 2; j < count; j += 1) {
      if (i === 0 && j === count - 1) continue; // the closing edge shares point 1 with edge 1
      if (segmentsIntersect(a, b, points[j], points[(j + 1) % count])) {
        return {
          message: fmt(
            gettext(
              "The outline crosses itself: the edge from point %(a)s to %(b)s meets the edge from point %(c)s to %(d)s."
            ),
            { a: i + 1, b: i + 2, c: j + 1, d: ((j + 1) % count) + 1 }
          ),
          edges: [i, j],
        };
      }
    }
  }
  if (twiceArea(points) === 0) return { message: gettext("The region has no area.") };
  return null;
}

function limitProblem(points, width, height, limits) {
  const count = points.length;
  if (count > limits.max_points) {
    if (limits.source === "ctyun_fence") {
      return {
        message: fmt(
          gettext("CTYun's electronic fence takes 3 to 9 points; this region has %(count)s."),
          { count }
        ),
      };
    }
    return {
      message: fmt(gettext("This region may have at most %(maximum)s points; it has %(count)s."), {
        maximum: limits.max_points,
        count,
      }),
    };
  }
  if (count < limits.min_points) {
    if (limits.source === "body_tracking") {
      return {
        message: fmt(
          gettext(
            "Flow tracking (body_tracking) needs an area of at least 4 points; this region has %(count)s."
          ),
          { count }
        ),
      };
    }
    return {
      message: fmt(gettext("This region needs at least %(minimum)s points; it has %(count)s."), {
        minimum: limits.min_points,
        count,
      }),
    };
  }
  return edgeProblem(points, width, height, limits.edge);
}

function countProblem(others, limits) {
  if (limits.max_regions === null || limits.max_regions === undefined) return null;
  if (others < limits.max_regions) return null;
  if (limits.source === "body_num") {
    return {
      message: fmt(
        gettext(
          "This camera already has %(count)s crowd areas, the most Baidu crowd counting (body_num) takes."
        ),
        { count: others }
      ),
    };
  }
  if (limits.source === "body_tracking") {
    return {
      message: gettext(
        "This camera already has a flow area: Baidu flow tracking (body_tracking) takes only one."
      ),
    };
  }
  return {
    message: fmt(
      gettext("This camera already has %(count)s regions of this kind, the most allowed."),
      { count: others }
    ),
  };
}

/**
 * Why region ({name, kind, points, frameWidth, frameHeight, id}) cannot be saved, or null:
 * the same checks, in the same order, as cameras.polygons on the server. otherRegions are
 * the camera's saved regions; limits maps each kind to its vendor limits.
 */
export function regionProblem(region, otherRegions, limits, { requireName = true } = {}) {
  const points = region.points;
  if (requireName && !region.name) {
    return { message: gettext("Give the region a name."), field: "name" };
  }
  if (points.length < MIN_POINTS) {
    return {
      message: fmt(gettext("A region needs at least %(minimum)s points; this one has %(count)s."), {
        minimum: MIN_POINTS,
        count: points.length,
      }),
    };
  }
  if (points.length > MAX_POINTS) {
    return {
      message: fmt(gettext("A region may have at most %(maximum)s points; this one has %(count)s."), {
        maximum: MAX_POINTS,
        count: points.length,
      }),
    };
  }
  const problem =
    edgeProblem(points, region.frameWidth, region.frameHeight) || shapeProblem(points);
  if (problem) return problem;
  const kindLimits = limitsOf(limits, region.kind);
  const limit = limitProblem(points, region.frameWidth, region.frameHeight, kindLimits);
  if (limit) return limit;
  const others = otherRegions.filter(
    (other) => other.kind === region.kind && other.id !== region.id
  ).length;
  return countProblem(others, kindLimits);
}

function limitsOf(limits, kind) {
  const given = (limits && limits[kind]) || {};
  return {
    min_points: given.min_points ?? MIN_POINTS,
    max_points: given.max_points ?? MAX_POINTS,
    max_regions: given.max_regions ?? null,
    edge: given.edge || "frame",
    rules: given.rules || [],
    source: given.source || null,
  };
}

function pointInPolygon(point, polygon) {
  let result = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > point[1] !== yj > point[1]) {
      const x = ((xj - xi) * (point[1] - yi)) / (yj - yi) + xi;
      if (point[0] < x) result = !result;
    }
  }
  return result;
}

function closestOnSegment(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length = dx * dx + dy * dy;
  const along = length === 0 ? 0 : ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length;
  const t = Math.max(0, Math.min(1, along));
  return [a[0] + t * dx, a[1] + t * dy];
}

const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);

// --------------------------------------------------------------------------- the editor

class FenceEditor {
  constructor(root, data) {
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

  csrfToken() {
    const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
    if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  async request(method, url, body) {
    const headers = { Accept: "application/json", "X-CSRFToken": this.csrfToken() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

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
      response = await this.request(creating ? "POST" : "PATCH", url, body);
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
      response = await this.request("DELETE", this.api + region.id + "/");
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

  // ----------------------------------------------------------------------- the form

  colourOf(kind) {
    const entry = this.kinds.get(kind);
    return (entry && entry.colour) || FALLBACK_COLOUR;
  }

  labelOf(kind) {
    const entry = this.kinds.get(kind);
    return (entry && entry.label) || kind;
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

  // ----------------------------------------------------------------------- coordinates

  /** Frame pixels of a region -> CSS pixels of the canvas. */
  toView([x, y], frameWidth = this.current.frameWidth, frameHeight = this.current.frameHeight) {
    return [
      ((x + 0.5) * this.size.width) / frameWidth,
      ((y + 0.5) * this.size.height) / frameHeight,
    ];
  }

  /** CSS pixels of the canvas -> whole frame pixels of the current region, inside the frame. */
  toFrame([vx, vy]) {
    const { frameWidth, frameHeight } = this.current;
    return this.clampToFrame([
      Math.round((vx * frameWidth) / this.size.width - 0.5),
      Math.round((vy * frameHeight) / this.size.height - 0.5),
    ]);
  }

  clampToFrame([x, y]) {
    const { frameWidth, frameHeight } = this.current;
    return [Math.min(Math.max(x, 0), frameWidth - 1), Math.min(Math.max(y, 0), frameHeight - 1)];
  }

  eventPoint(event) {
    const box = this.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  radius() {
    return HIT_RADIUS[this.pointerType] || HIT_RADIUS.mouse;
  }

  hitPoint(view) {
    const points = this.current.points;
    for (let i = points.length - 1; i >= 0; i -= 1) {
      if (distance(this.toView(points[i]), view) <= this.radius()) return i;
    }
    return -1;
  }

  hitEdge(view) {
    const points = this.current.points;
    const count = points.length;
    const edges = this.current.closed ? count : count - 1;
    let best = null;
    for (let i = 0; i < edges; i += 1) {
      const a = this.toView(points[i]);
      const b = this.toView(points[(i + 1) % count]);
      const at = closestOnSegment(view, a, b);
      const gap = distance(at, view);
      if (gap <= this.radius() && (best === null || gap < best.gap)) best = { index: i, at, gap };
    }
    return best;
  }

  hitRegion(view) {
    for (let i = this.regions.length - 1; i >= 0; i -= 1) {
      const region = this.regions[i];
      if (region.id === this.current.id) continue;
      const outline = region.points.map((point) =>
        this.toView(point, region.frame_width, region.frame_height)
      );
      if (pointInPolygon(view, outline)) return region;
    }
    return null;
  }

  // ----------------------------------------------------------------------- input

  bind() {
    const { canvas, buttons } = this;
    canvas.addEventListener("pointerdown", (event) => this.onPointerDown(event));
    canvas.addEventListener("pointermove", (event) => this.onPointerMove(event));
    canvas.addEventListener("pointerup", (event) => this.onPointerUp(event));
    canvas.addEventListener("pointercancel", (event) => this.onPointerUp(event, true));
    canvas.addEventListener("pointerleave", () => {
      this.hover = null;
      this.draw();
    });
    canvas.addEventListener("contextmenu", (event) => event.preventDefault());
    document.addEventListener("keydown", (event) => this.onKey(event));

    buttons.close.addEventListener("click", () => this.closeOutline());
    buttons.undo.addEventListener("click", () => this.undo());
    buttons.deletePoint.addEventListener("click", () => this.deletePoint());
    buttons.discard.addEventListener("click", () => this.discard());
    buttons.save.addEventListener("click", () => this.save());
    buttons.remove.addEventListener("click", () => this.remove());
    buttons.create.addEventListener("click", () => {
      if (!this.mayLeave()) return;
      this.startNew();
      this.say(gettext("Click on the picture to place the first point."));
      this.canvas.focus();
    });
    this.nameInput.addEventListener("input", () => {
      this.current.name = this.nameInput.value.trim();
      this.current.browsing = false;
      if (this.problem && this.problem.field === "name" && this.current.name) this.clearProblem();
      this.updateControls();
    });
    this.nameInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.save();
      }
    });
    this.kindSelect.addEventListener("change", () => this.setKind(this.kindSelect.value));
    window.addEventListener("beforeunload", (event) => {
      if (this.isDirty()) event.preventDefault();
    });
    new ResizeObserver(() => this.resize()).observe(this.stage);
  }

  onPointerDown(event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    this.pointerType = event.pointerType || "mouse";
    this.canvas.focus({ preventScroll: true });
    const view = this.eventPoint(event);
    const region = this.current;
    const startDrag = (index, pushed) => {
      this.drag = {
        index,
        pointerId: event.pointerId,
        origin: view,
        moved: false,
        pushed,
        closeOnRelease:
          !pushed && !region.closed && index === 0 && region.points.length >= MIN_POINTS,
      };
      this.canvas.setPointerCapture(event.pointerId);
    };

    if (region.points.length === 0) {
      const other = region.browsing ? this.hitRegion(view) : null;
      if (other) {
        this.edit(other);
        return;
      }
      this.addPoint(this.toFrame(view));
      startDrag(this.selected, true);
      return;
    }
    const hit = this.hitPoint(view);
    if (hit >= 0) {
      this.selected = hit;
      startDrag(hit, false);
      this.renderForm();
      this.draw();
      return;
    }
    const edge = this.hitEdge(view);
    if (edge) {
      this.insertPoint(edge.index, this.toFrame(edge.at));
      startDrag(this.selected, true);
      return;
    }
    if (!region.closed) {
      this.addPoint(this.toFrame(view));
      startDrag(this.selected, true);
      return;
    }
    const other = this.hitRegion(view);
    if (other && this.mayLeave()) {
      this.edit(other);
      return;
    }
    this.selected = -1;
    this.renderForm();
    this.draw();
  }

  onPointerMove(event) {
    const view = this.eventPoint(event);
    const drag = this.drag;
    if (drag && event.pointerId === drag.pointerId) {
      if (!drag.moved && distance(view, drag.origin) < DRAG_THRESHOLD) return;
      if (!drag.pushed) {
        this.pushHistory();
        drag.pushed = true;
      }
      drag.moved = true;
      this.movePoint(drag.index, this.toFrame(view));
      return;
    }
    if (event.pointerType !== "mouse") return;
    this.hover = view;
    this.canvas.style.cursor = this.cursorAt(view);
    if (!this.current.closed && this.current.points.length) this.draw();
  }

  onPointerUp(event, cancelled = false) {
    const drag = this.drag;
    if (!drag || event.pointerId !== drag.pointerId) return;
    this.drag = null;
    if (this.canvas.hasPointerCapture(event.pointerId)) {
      this.canvas.releasePointerCapture(event.pointerId);
    }
    if (!cancelled && !drag.moved && drag.closeOnRelease) this.closeOutline();
    else this.draw();
  }

  cursorAt(view) {
    if (this.hitPoint(view) >= 0) return "move";
    if (this.current.points.length && this.hitEdge(view)) return "copy";
    if ((this.current.closed || this.current.browsing) && this.hitRegion(view)) return "pointer";
    return "crosshair";
  }

  onKey(event) {
    const target = event.target;
    const typing =
      target instanceof HTMLInputElement ||
      target instanceof HTMLTextAreaElement ||
      target instanceof HTMLSelectElement ||
      (target instanceof HTMLElement && target.isContentEditable);
    if (typing) return;
    const key = event.key;
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && (key === "z" || key === "Z")) {
      event.preventDefault();
      this.undo();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if ((key === "Delete" || key === "Backspace") && this.selected >= 0) {
      event.preventDefault();
      this.deletePoint();
      return;
    }
    if (key === "Escape" && this.selected >= 0) {
      this.selected = -1;
      this.renderForm();
      this.draw();
      return;
    }
    if (document.activeElement !== this.canvas) return;
    const step = event.shiftKey ? 10 : 1;
    const moves = {
      ArrowLeft: [-step, 0],
      ArrowRight: [step, 0],
      ArrowUp: [0, -step],
      ArrowDown: [0, step],
    };
    if (moves[key] && this.selected >= 0) {
      event.preventDefault();
      this.nudge(...moves[key]);
    } else if (key === "Enter") {
      event.preventDefault();
      this.closeOutline();
    }
  }

  // ----------------------------------------------------------------------- the picture

  watchFrame() {
    const image = this.image;
    if (!image) return;
    const adopt = () => {
      if (!image.naturalWidth || !image.naturalHeight) return;
      this.setFrameSize(image.naturalWidth, image.naturalHeight);
    };
    if (image.complete && image.naturalWidth) adopt();
    image.addEventListener("load", adopt);
    image.addEventListener("error", () => this.frameMissing());
  }

  /** The picture's real size is the frame new regions are drawn in. */
  setFrameSize(width, height) {
    this.frameWidth = width;
    this.frameHeight = height;
    this.stage.style.setProperty("--frame-w", String(width));
    this.stage.style.setProperty("--frame-h", String(height));
    const region = this.current;
    if (region && region.id === null && region.points.length === 0) {
      region.frameWidth = width;
      region.frameHeight = height;
    }
    this.resize();
  }

  frameMissing() {
    this.image.remove();
    this.image = null;
    this.stage.classList.add("fe-blank");
    if (!document.getElementById("no-frame")) {
      const notice = document.createElement("p");
      notice.id = "no-frame";
      notice.className = "fe-notice";
      notice.textContent = gettext(
        "The camera's latest frame could not be loaded. You can still draw on this blank frame of the camera's size."
      );
      this.stage.before(notice);
    }
    this.resize();
  }

  resize() {
    const box = this.stage.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.size = { width: box.width, height: box.height };
    this.canvas.width = Math.max(1, Math.round(box.width * ratio));
    this.canvas.height = Math.max(1, Math.round(box.height * ratio));
    this.context.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.draw();
  }

  // ----------------------------------------------------------------------- drawing

  draw() {
    const ctx = this.context;
    const region = this.current;
    if (!region || !this.size.width) return;
    ctx.clearRect(0, 0, this.size.width, this.size.height);
    const dim = region.id !== null || region.points.length > 0;
    for (const other of this.regions) {
      if (other.id === region.id) continue;
      const outline = other.points.map((point) =>
        this.toView(point, other.frame_width, other.frame_height)
      );
      this.drawOutline(outline, this.colourOf(other.kind), {
        closed: true,
        fill: dim ? 0.08 : 0.18,
        alpha: dim ? 0.5 : 1,
        dashed: dim,
        width: 2,
      });
      this.drawLabel(outline, other.name, this.colourOf(other.kind), dim ? 0.6 : 1);
    }

    const colour = this.colourOf(region.kind);
    const outline = region.points.map((point) => this.toView(point));
    this.drawOutline(outline, colour, {
      closed: region.closed,
      fill: region.closed ? 0.25 : 0,
      alpha: 1,
      width: 3,
    });
    if (!region.closed && outline.length && this.hover && !this.drag) {
      ctx.save();
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(...outline[outline.length - 1]);
      ctx.lineTo(...this.hover);
      ctx.stroke();
      ctx.restore();
    }
    if (this.problem && this.problem.edges) {
      ctx.save();
      ctx.strokeStyle = "#ff1744";
      ctx.lineWidth = 5;
      for (const index of this.problem.edges) {
        const a = outline[index];
        const b = outline[(index + 1) % outline.length];
        if (!a || !b) continue;
        ctx.beginPath();
        ctx.moveTo(...a);
        ctx.lineTo(...b);
        ctx.stroke();
      }
      ctx.restore();
    }
    if (region.closed && region.name) this.drawLabel(outline, region.name, colour, 1);
    this.drawPoints(outline, colour);
  }

  drawOutline(outline, colour, { closed, fill, alpha, dashed = false, width = 2 }) {
    if (!outline.length) return;
    const ctx = this.context;
    ctx.save();
    ctx.globalAlpha = alpha;
    ctx.beginPath();
    ctx.moveTo(...outline[0]);
    for (const point of outline.slice(1)) ctx.lineTo(...point);
    if (closed) ctx.closePath();
    if (closed && fill > 0) {
      ctx.globalAlpha = fill;
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.globalAlpha = alpha;
    }
    // A dark halo first, so that the line shows on bright and dark pictures alike.
    ctx.setLineDash(dashed ? [8, 5] : []);
    ctx.lineJoin = "round";
    ctx.strokeStyle = "rgba(0, 0, 0, 0.55)";
    ctx.lineWidth = width + 2;
    ctx.stroke();
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.stroke();
    ctx.restore();
  }

  drawLabel(outline, text, colour, alpha) {
    if (!outline.length || !text) return;
    const ctx = this.context;
    const top = outline.reduce((best, point) => (point[1] < best[1] ? point : best), outline[0]);
    ctx.save();
    ctx.globalAlpha = alpha;
    ctx.font = "600 13px system-ui, sans-serif";
    const width = ctx.measureText(text).width + 10;
    const x = Math.min(Math.max(top[0] - width / 2, 0), Math.max(this.size.width - width, 0));
    const y = Math.max(top[1] - 26, 0);
    ctx.fillStyle = colour;
    ctx.fillRect(x, y, width, 20);
    ctx.fillStyle = "#fff";
    ctx.textBaseline = "middle";
    ctx.fillText(text, x + 5, y + 10);
    ctx.restore();
  }

  drawPoints(outline, colour) {
    const ctx = this.context;
    const large = this.pointerType === "touch";
    const radius = large ? 8 : 5;
    const region = this.current;
    const flagged = new Set((this.problem && this.problem.points) || []);
    outline.forEach((point, index) => {
      ctx.save();
      const selected = index === this.selected;
      const closable = index === 0 && !region.closed && outline.length >= MIN_POINTS;
      ctx.beginPath();
      ctx.arc(point[0], point[1], selected || closable ? radius + 2 : radius, 0, Math.PI * 2);
      ctx.fillStyle = selected ? colour : "#fff";
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = flagged.has(index) ? "#ff1744" : selected ? "#fff" : colour;
      ctx.stroke();
      if (closable) {
        ctx.beginPath();
        ctx.arc(point[0], point[1], radius + 6, 0, Math.PI * 2);
        ctx.strokeStyle = colour;
        ctx.setLineDash([3, 3]);
        ctx.stroke();
      }
      ctx.restore();
    });
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
