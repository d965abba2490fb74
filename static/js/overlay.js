/**
 * Overlays drawn on a <canvas> lying exactly over a camera picture: the regions of the
 * camera (fences, zones) in their kind's colour, person boxes (red for a person a rule
 * found at fault, green for the others) with their keypoints, other detected objects, and
 * findings that match no person. Shared by the live wall and the alert page.
 *
 * An overlay has the shape of a `frame.analyzed` event (see docs/alerts.md):
 *   { frame_size: [width, height], persons: [{box, score, keypoints?, track_id?}],
 *     objects: [{label, box, score}], regions: [{id, name, kind, points}],
 *     problems: [{severity, summary, region, findings: [{label, score, box, track_id}]}] }
 * Boxes are {left, top, width, height} and points [x, y] in pixels of that frame.
 *
 * Drawing shares its helpers with the fence editor (common.js): a dark halo under every
 * line so that it shows on bright and dark pictures alike, labels as text on a block of
 * the line's colour, and region points at pixel centres ((x + 0.5) * scale).
 */

import { drawTag, fitCanvas, strokeWithHalo } from "./common.js";

export const PERSON_AT_FAULT = "#e53935";
export const PERSON_FINE = "#43a047";
export const OBJECT_COLOUR = "#f5b700";
const FALLBACK_REGION_COLOUR = "#5d6778";
const LABEL_FONT = "600 12px system-ui, sans-serif";
// Keypoints less sure than this are not drawn (the vendor's advice for body keypoints).
const KEYPOINT_MIN_SCORE = 0.2;
// Persons shorter than this on the screen (CSS pixels) get no score label.
const SCORE_LABEL_MIN_HEIGHT = 60;
// Limbs between keypoints, by the names vendors give them.
const SKELETON = [
  ["top_head", "neck"],
  ["nose", "neck"],
  ["neck", "left_shoulder"],
  ["neck", "right_shoulder"],
  ["left_shoulder", "left_elbow"],
  ["left_elbow", "left_wrist"],
  ["right_shoulder", "right_elbow"],
  ["right_elbow", "right_wrist"],
  ["left_shoulder", "left_hip"],
  ["right_shoulder", "right_hip"],
  ["left_hip", "right_hip"],
  ["left_hip", "left_knee"],
  ["left_knee", "left_ankle"],
  ["right_hip", "right_knee"],
  ["right_knee", "right_ankle"],
];

// --------------------------------------------------------------------------- geometry

function area(box) {
  return Math.max(0, box.width) * Math.max(0, box.height);
}

function intersection(a, b) {
  const width = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const height = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  return width > 0 && height > 0 ? width * height : 0;
}

/** Whether two boxes show the same thing: they overlap by half, or one lies in the other. */
export function sameThing(a, b) {
  if (!a || !b) return false;
  const shared = intersection(a, b);
  if (!shared) return false;
  const union = area(a) + area(b) - shared;
  const smaller = Math.min(area(a), area(b));
  return shared / union >= 0.5 || (smaller > 0 && shared / smaller >= 0.9);
}

/** The findings of every problem, each with the severity of its problem. */
export function findingsOf(overlay) {
  const found = [];
  for (const problem of overlay.problems || []) {
    for (const finding of problem.findings || []) {
      found.push({ ...finding, severity: problem.severity, summary: problem.summary });
    }
  }
  return found;
}

/** The finding a person is at fault for, or null. */
export function faultOf(person, findings) {
  for (const finding of findings) {
    if (finding.track_id != null && person.track_id != null && finding.track_id === person.track_id) {
      return finding;
    }
    if (sameThing(person.box, finding.box)) return finding;
  }
  return null;
}

// --------------------------------------------------------------------------- drawing

/** Draws overlays on one canvas over one picture; call `resize()` when its box changes. */
export class OverlayView {
  constructor(canvas, { regionColours = {} } = {}) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.regionColours = regionColours;
    this.overlay = null;
    this.size = { width: 0, height: 0 };
  }

  set(overlay) {
    this.overlay = overlay;
    this.draw();
  }

  clear() {
    this.overlay = null;
    this.draw();
  }

  resize() {
    this.size = fitCanvas(this.canvas, this.context, this.canvas);
    this.draw();
  }

  draw() {
    const ctx = this.context;
    const { width, height } = this.size;
    if (!width || !height) return;
    ctx.clearRect(0, 0, width, height);
    const overlay = this.overlay;
    if (!overlay || !overlay.frame_size) return;
    const [frameWidth, frameHeight] = overlay.frame_size;
    if (!frameWidth || !frameHeight) return;
    this.sx = width / frameWidth;
    this.sy = height / frameHeight;

    const problemRegions = new Set(
      (overlay.problems || []).map((problem) => problem.region).filter((id) => id != null)
    );
    for (const region of overlay.regions || []) {
      this.drawRegion(region, problemRegions.has(region.id));
    }
    for (const found of overlay.objects || []) {
      this.drawBox(found.box, OBJECT_COLOUR, {
        width: 1.5,
        label: `${found.label || ""} ${percent(found.score)}`.trim(),
      });
    }
    const findings = findingsOf(overlay);
    const explained = new Set();
    for (const person of overlay.persons || []) {
      const fault = faultOf(person, findings);
      if (fault) explained.add(fault);
      const colour = fault ? PERSON_AT_FAULT : PERSON_FINE;
      this.drawKeypoints(person.keypoints || [], colour);
      // Scores of persons in the clear are left out where they would hide the picture.
      const roomy = person.box && person.box.height * this.sy >= SCORE_LABEL_MIN_HEIGHT;
      this.drawBox(person.box, colour, {
        width: fault ? 3 : 2,
        label: fault ? `${fault.label} ${percent(fault.score)}`.trim() : roomy ? percent(person.score) : "",
      });
    }
    // What a rule found where no person box is (a helmet class, a hand, a face...).
    for (const finding of findings) {
      if (explained.has(finding) || !finding.box) continue;
      this.drawBox(finding.box, PERSON_AT_FAULT, {
        width: 3,
        dashed: true,
        label: `${finding.label} ${percent(finding.score)}`.trim(),
      });
    }
  }

  boxToView(box) {
    return [box.left * this.sx, box.top * this.sy, box.width * this.sx, box.height * this.sy];
  }

  pointToView([x, y]) {
    return [(x + 0.5) * this.sx, (y + 0.5) * this.sy];
  }

  drawRegion(region, alerting) {
    const outline = (region.points || []).map((point) => this.pointToView(point));
    if (outline.length < 2) return;
    const colour = this.regionColours[region.kind] || FALLBACK_REGION_COLOUR;
    const ctx = this.context;
    ctx.save();
    ctx.beginPath();
    ctx.moveTo(...outline[0]);
    for (const point of outline.slice(1)) ctx.lineTo(...point);
    ctx.closePath();
    ctx.globalAlpha = alerting ? 0.3 : 0.15;
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.lineJoin = "round";
    ctx.setLineDash(alerting ? [] : [8, 5]);
    strokeWithHalo(ctx, colour, alerting ? 3 : 2);
    ctx.restore();
    const top = outline.reduce((best, point) => (point[1] < best[1] ? point : best), outline[0]);
    this.drawLabel(region.name, colour, top[0], top[1] - 20, { centre: true });
  }

  drawBox(box, colour, { width = 2, dashed = false, label = "" } = {}) {
    if (!box) return;
    const [x, y, w, h] = this.boxToView(box);
    const ctx = this.context;
    ctx.save();
    ctx.setLineDash(dashed ? [6, 4] : []);
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    strokeWithHalo(ctx, colour, width);
    ctx.restore();
    if (label) this.drawLabel(label, colour, x, y - 18);
  }

  drawKeypoints(keypoints, colour) {
    const points = new Map();
    for (const point of keypoints) {
      if (point.score != null && point.score < KEYPOINT_MIN_SCORE) continue;
      points.set(point.name, this.pointToView([point.x, point.y]));
    }
    if (!points.size) return;
    const ctx = this.context;
    ctx.save();
    ctx.lineCap = "round";
    for (const [from, to] of SKELETON) {
      const a = points.get(from);
      const b = points.get(to);
      if (!a || !b) continue;
      ctx.beginPath();
      ctx.moveTo(...a);
      ctx.lineTo(...b);
      strokeWithHalo(ctx, colour, 2);
    }
    for (const point of points.values()) {
      ctx.beginPath();
      ctx.arc(point[0], point[1], 3, 0, Math.PI * 2);
      ctx.fillStyle = "#fff";
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = colour;
      ctx.stroke();
    }
    ctx.restore();
  }

  drawLabel(text, colour, x, y, { centre = false } = {}) {
    drawTag(this.context, text, colour, x, y, {
      bounds: this.size,
      font: LABEL_FONT,
      pad: 4,
      height: 18,
      centre,
      contrast: true,
    });
  }
}

function percent(score) {
  return typeof score === "number" ? `${Math.round(score * 100)}%` : "";
}
