/**
 * A camera tile of the live wall: the latest analysed frame with its overlay (drawn by
 * overlay.js), the camera's capture health, the health of its analyses, the problems of
 * the frame and the count of its unresolved alerts.
 */

import { element, fmt, formatMoment, gettext, ngettext, urlFor } from "../common.js";
import { OverlayView } from "../overlay.js";
import { SEVERITY_RANK } from "./feed.js";

// A tile whose last analysis is older than this shows its overlay faded, and reloads its
// picture now and then without one.
const STALE_AFTER_MS = 60_000;
const STILL_REFRESH_MS = 30_000;

/**
 * Whether a `camera.status` event says the camera's analyses are unavailable: the
 * pipeline adds `analysis` ("available" or "unavailable") and `analysis_reason`
 * (monitoring.pipeline.analysis_status). Returns the reason, "" when they are available,
 * or null when the event does not say (the capture service's own status events).
 */
export function analysisUnavailable(event) {
  if (!("analysis" in event)) return null;
  if (event.analysis !== "unavailable") return "";
  return event.analysis_reason || gettext("no reason given");
}

/** An `analysis.health` payload's reason in the page's language. */
export function healthReason(health) {
  const lang = (document.documentElement.lang || "").toLowerCase();
  const reasons = health.reasons || {};
  return reasons[lang] || reasons[lang.split("-")[0]] || health.reason || "";
}

const HEALTH_LABELS = {
  ok: () => gettext("ok"),
  waiting: () => gettext("waiting"),
  failing: () => gettext("failing"),
  refused: () => gettext("refused"),
  paused: () => gettext("paused"),
};

export class Tile {
  constructor(root, camera, { urls, labels, regionColours }) {
    this.root = root;
    this.camera = camera;
    this.urls = urls;
    this.labels = labels;
    const part = (role) => root.querySelector(`[data-role="${role}"]`);
    this.stage = part("stage");
    this.image = part("frame");
    this.canvas = part("overlay");
    this.noFrame = part("no-frame");
    this.health = part("health");
    this.reason = part("reason");
    this.seen = part("seen");
    this.banner = part("analysis");
    this.analysisHealth = new Map(); // analysis id -> {api, health}
    this.caption = part("caption");
    this.badge = part("alerts");
    this.view = new OverlayView(this.canvas, { regionColours });
    this.loading = 0;
    this.analysedAt = 0;
    this.stillAt = Date.now();
    new ResizeObserver(() => this.view.resize()).observe(this.stage);
    this.enlarge = part("enlarge");
    if (this.enlarge) this.enlarge.addEventListener("click", () => this.toggleSize());
  }

  /** A tile shown across the whole wall, for a closer look, and back. */
  toggleSize() {
    const large = this.root.classList.toggle("tile-large");
    this.enlarge.setAttribute("aria-pressed", String(large));
    this.enlarge.title = large ? gettext("Back to the wall") : gettext("Enlarge");
    this.root.scrollIntoView({ block: "nearest" });
  }

  frameUrl(version) {
    return `${urlFor(this.urls.camera_frame, this.camera.id)}?frame=${encodeURIComponent(version)}`;
  }

  /** A `frame.analyzed` event: load that frame, then draw its overlay over it. */
  analysed(event, { initial = false } = {}) {
    // A frame says nothing of the analyses' health: `camera.status` and `analysis.health`
    // events keep the tile's banner.
    this.showPicture(event.frame ?? Date.now(), (next) => {
      this.setFrameSize(event.frame_size || [next.naturalWidth, next.naturalHeight]);
      this.view.set(event);
      this.canvas.classList.remove("stale");
      this.setCaption(event.problems || []);
      this.seen.textContent = fmt(gettext("Analysed at %(time)s"), {
        time: formatMoment(event.captured_at || event.at),
      });
      this.seen.setAttribute("datetime", event.captured_at || event.at || "");
    });
    this.analysedAt = initial ? Date.parse(event.at || "") || 0 : Date.now();
    this.stillAt = Date.now();
    this.root.dataset.frame = String(event.frame ?? "");
  }

  /** Reload the latest picture without an overlay (no analysis came for a while). */
  refreshStill() {
    this.showPicture(`t${Date.now()}`, (next) => {
      this.setFrameSize([next.naturalWidth, next.naturalHeight]);
      this.view.clear();
      this.setCaption([]);
    });
    this.stillAt = Date.now();
  }

  /** Load a picture of the camera, show it once loaded, then call `then(image)`; only the
   * latest load shows. */
  showPicture(version, then) {
    const token = ++this.loading;
    const next = new Image();
    next.addEventListener("load", () => {
      if (token !== this.loading) return;
      this.image.src = next.src;
      this.image.hidden = false;
      if (this.noFrame) this.noFrame.hidden = true;
      then(next);
    });
    next.src = this.frameUrl(version);
  }

  tick(now) {
    const stale = now - this.analysedAt > STALE_AFTER_MS;
    this.canvas.classList.toggle("stale", stale);
    const hasPicture = Boolean(this.camera.frame_url || this.image.getAttribute("src"));
    if (stale && hasPicture && now - this.stillAt > STILL_REFRESH_MS && this.camera.health !== "offline") {
      this.refreshStill();
    }
  }

  setFrameSize([width, height]) {
    if (!width || !height) return;
    this.stage.style.setProperty("--frame-w", String(width));
    this.stage.style.setProperty("--frame-h", String(height));
  }

  /** A `camera.status` event. */
  status(event) {
    this.setHealth(event.health, event.reason);
    const analyses = (event.analyses || []).filter((item) => item.health);
    if (analyses.length) {
      for (const item of analyses) this.analysisHealth.set(item.analysis, item);
      this.showAnalysisHealth();
    } else {
      const reason = analysisUnavailable(event);
      if (reason !== null) this.setAnalysis(reason);
    }
  }

  /** An `analysis.health` event, or an item of the page's initial list. */
  healthOf(item) {
    this.analysisHealth.set(item.analysis, item);
    this.showAnalysisHealth();
  }

  /** The analyses that are not `ok`, each with its state and what to do. */
  showAnalysisHealth() {
    const lines = [];
    for (const { api, health } of this.analysisHealth.values()) {
      if (health.state === "ok") continue;
      const state = (HEALTH_LABELS[health.state] || (() => health.state))();
      const reason = healthReason(health);
      lines.push(reason ? `${api}: ${state}, ${reason}` : `${api}: ${state}`);
    }
    this.banner.hidden = !lines.length;
    this.banner.textContent = lines.join(" · ");
    const down = [...this.analysisHealth.values()].some(
      ({ health }) => !["ok", "waiting"].includes(health.state),
    );
    this.root.classList.toggle("analysis-unavailable", down);
  }

  setHealth(health, reason) {
    if (!health) return;
    this.camera.health = health;
    this.health.className = `health health-${health}`;
    this.health.textContent = this.labels.health[health] || health;
    this.reason.textContent = reason || "";
    this.root.classList.toggle("tile-offline", health === "offline");
  }

  setAnalysis(reason) {
    this.banner.hidden = !reason;
    this.banner.textContent = reason ? fmt(gettext("Analysis unavailable: %(reason)s"), { reason }) : "";
    this.root.classList.toggle("analysis-unavailable", Boolean(reason));
  }

  setCaption(problems) {
    this.caption.replaceChildren(
      ...problems.map((problem) =>
        element("li", { className: `severity-${problem.severity}`, text: problem.summary })
      )
    );
    this.caption.hidden = problems.length === 0;
  }

  /** How many unresolved alerts the camera has, and the worst severity among them. */
  setAlerts(count, worst) {
    this.badge.hidden = count === 0;
    this.badge.textContent = fmt(
      ngettext("%(count)s unresolved alert", "%(count)s unresolved alerts", count),
      { count }
    );
    for (const severity of Object.keys(SEVERITY_RANK)) {
      this.root.classList.toggle(`alerting-${severity}`, count > 0 && worst === severity);
    }
    this.root.classList.toggle("alerting", count > 0);
  }
}
