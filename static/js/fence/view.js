/**
 * What the fence editor shows: the camera's picture (or a blank frame of its size), and
 * over it the regions, the one being edited with its points, and the edges a check
 * refused. The lowest layer of the editor (FenceView <- FenceInput <- FenceForm <-
 * FenceEditor, each a part of the same editor); it reads the editor's state and never
 * changes it.
 *
 * Coordinates: a frame pixel x is drawn at (x + 0.5) * shown_width / frame_width CSS
 * pixels, and a click is rounded to the nearest whole pixel.
 */

import { drawTag, fitCanvas, gettext, strokeWithHalo } from "../common.js";
import { MIN_POINTS } from "./checks.js";

const FALLBACK_COLOUR = "#5d6778";

export class FenceView {
  // ----------------------------------------------------------------------- the form

  colourOf(kind) {
    const entry = this.kinds.get(kind);
    return (entry && entry.colour) || FALLBACK_COLOUR;
  }

  labelOf(kind) {
    const entry = this.kinds.get(kind);
    return (entry && entry.label) || kind;
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
    this.size = fitCanvas(this.canvas, this.context, this.stage);
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
    ctx.setLineDash(dashed ? [8, 5] : []);
    ctx.lineJoin = "round";
    strokeWithHalo(ctx, colour, width);
    ctx.restore();
  }

  drawLabel(outline, text, colour, alpha) {
    if (!outline.length || !text) return;
    const top = outline.reduce((best, point) => (point[1] < best[1] ? point : best), outline[0]);
    drawTag(this.context, text, colour, top[0], top[1] - 26, {
      bounds: this.size,
      font: "600 13px system-ui, sans-serif",
      pad: 5,
      height: 20,
      centre: true,
      alpha,
    });
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
