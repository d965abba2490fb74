/**
 * The fence editor's input: pointer presses, drags and hovers on the picture, and keys
 * (undo, delete, nudge, close), hit-tested against points, edges and saved regions.
 * A layer of the editor (see view.js).
 */

import { closestOnSegment, distance, MIN_POINTS, pointInPolygon } from "./checks.js";
import { gettext } from "../common.js";
import { FenceView } from "./view.js";

// How far from a point or an edge a press still hits it, in CSS pixels.
const HIT_RADIUS = { mouse: 8, pen: 12, touch: 20 };
// A press that moves less than this is a click, not a drag.
const DRAG_THRESHOLD = 3;

export class FenceInput extends FenceView {
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
}
