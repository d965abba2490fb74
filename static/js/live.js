/**
 * The live wall: a tile per camera with its latest analysed frame and the overlay of what
 * the analysis found, and beside it the feed of alerts, kept up to date by the live
 * socket (/ws/live/, described in docs/alerts.md).
 *
 * The page (templates/alerts/live.html) draws the tiles and gives, in the JSON script
 * "live-data": cameras, the latest overlay and status event of each camera, the alerts
 * of the feed (as alert events carry them), the id of the latest event when the page
 * was drawn (the socket resumes from there), region colours, labels and URL patterns.
 *
 * The socket reconnects by itself with exponential backoff and jitter, resumes from the
 * last event it saw (`?last_event_id=`), drops events it already has (by id), and after a
 * `resync` reloads the feed and camera health through the REST API. A connection that
 * stays silent past the heartbeat is closed and reopened.
 *
 * Sound (a Web Audio beep) and desktop notifications are off until the operator turns
 * them on; both choices are remembered in localStorage. Texts come from Django's
 * JavaScript catalogue (gettext, ngettext, interpolate), loaded before this module.
 */

import { OverlayView } from "./overlay.js";

const gettext = typeof window.gettext === "function" ? window.gettext : (text) => text;
const ngettext =
  typeof window.ngettext === "function"
    ? window.ngettext
    : (singular, plural, count) => (count === 1 ? singular : plural);
const interpolate =
  typeof window.interpolate === "function"
    ? window.interpolate
    : (format, values) => format.replace(/%\((\w+)\)s/g, (match, key) => String(values[key]));
const fmt = (format, values) => interpolate(format, values, true);

const SOUND_KEY = "live-wall.sound";
const NOTIFY_KEY = "live-wall.notifications";
const FEED_LIMIT = 200;
const SEVERITY_RANK = { info: 1, warning: 2, critical: 3 };
// A tile whose last analysis is older than this shows its overlay faded, and reloads its
// picture now and then without one.
const STALE_AFTER_MS = 60_000;
const STILL_REFRESH_MS = 30_000;

const language = document.documentElement.lang || undefined;
// Times are shown in the site's zone, sent by the page shell, whatever the browser's zone.
const timeZone = document.documentElement.dataset.timeZone || undefined;
const timeFormat = new Intl.DateTimeFormat(language, { timeStyle: "medium", hourCycle: "h23", timeZone });
const dateTimeFormat = new Intl.DateTimeFormat(language, {
  year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone,
});
const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone });

function formatMoment(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return "";
  return dayFormat.format(moment) === dayFormat.format(new Date())
    ? timeFormat.format(moment)
    : dateTimeFormat.format(moment);
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

const urlFor = (pattern, id) => pattern.replace("{id}", encodeURIComponent(String(id)));

// --------------------------------------------------------------------------- the socket

/**
 * The live socket, reopened whenever it closes. `onState` hears "connecting",
 * "connected", "reconnecting" and "offline"; `onEvent` gets each event once.
 */
export class LiveSocket {
  constructor(
    { path, lastEventId = 0, onEvent, onState, onResync, onRefused },
    {
      baseDelay = 1000,
      maxDelay = 30_000,
      offlineAfter = 5,
      heartbeat = 20_000,
      silenceLimit = 45_000,
      stableAfter = 10_000,
    } = {}
  ) {
    this.path = path;
    this.lastEventId = lastEventId;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onResync = onResync;
    this.onRefused = onRefused;
    this.options = { baseDelay, maxDelay, offlineAfter, heartbeat, silenceLimit, stableAfter };
    this.seen = new Set();
    this.seenOrder = [];
    this.attempt = 0;
    this.socket = null;
    this.state = null;
    this.retryTimer = null;
    this.stableTimer = null;
    this.heartbeatTimer = null;
    this.lastMessageAt = 0;
    this.stopped = false;
  }

  start() {
    window.addEventListener("online", () => this.retryNow());
    window.addEventListener("offline", () => {
      if (this.state !== "connected") this.setState("offline");
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.checkSilence();
    });
    this.setState("connecting");
    this.connect();
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const resume = this.lastEventId > 0 ? `?last_event_id=${this.lastEventId}` : "";
    return `${scheme}//${window.location.host}${this.path}${resume}`;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch (error) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (message) => this.receive(socket, message));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  receive(socket, message) {
    if (socket !== this.socket) return;
    this.lastMessageAt = Date.now();
    let data;
    try {
      data = JSON.parse(message.data);
    } catch (error) {
      return;
    }
    if (!data || typeof data !== "object") return;
    switch (data.type) {
      case "hello":
        this.opened();
        return;
      case "pong":
        return;
      case "resync":
        this.lastEventId = Number(data.last_event_id) || this.lastEventId;
        this.onResync();
        return;
      case "error":
        console.warn("live socket:", data.detail);
        return;
      default:
        break;
    }
    if (typeof data.id === "number") {
      if (this.seen.has(data.id)) return;
      this.remember(data.id);
      this.lastEventId = Math.max(this.lastEventId, data.id);
    }
    this.onEvent(data);
  }

  remember(id) {
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > 5000) this.seen.delete(this.seenOrder.shift());
  }

  opened() {
    this.setState("connected");
    clearTimeout(this.stableTimer);
    // Backoff starts over only once a connection has lasted: a server that accepts and
    // drops at once is not hammered.
    this.stableTimer = setTimeout(() => {
      this.attempt = 0;
    }, this.options.stableAfter);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.beat(), this.options.heartbeat);
  }

  beat() {
    if (this.checkSilence()) return;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "ping" }));
    }
  }

  /** Drop a connection that has been silent too long; true when it did. */
  checkSilence() {
    const socket = this.socket;
    if (!socket || this.state !== "connected") return false;
    if (Date.now() - this.lastMessageAt < this.options.silenceLimit) return false;
    this.socket = null;
    socket.close();
    this.lost();
    return true;
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    if (this.stopped) return;
    if (event.code === 4401 || event.code === 4403) {
      this.stopTimers();
      this.setState("offline");
      this.onRefused(event.code);
      return;
    }
    this.lost();
  }

  lost() {
    this.stopTimers();
    this.scheduleReconnect();
  }

  stopTimers() {
    clearTimeout(this.stableTimer);
    clearInterval(this.heartbeatTimer);
    this.stableTimer = null;
    this.heartbeatTimer = null;
  }

  scheduleReconnect() {
    const { baseDelay, maxDelay, offlineAfter } = this.options;
    const ceiling = Math.min(maxDelay, baseDelay * 2 ** this.attempt);
    const wait = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.attempt += 1;
    const offline = this.attempt > offlineAfter || navigator.onLine === false;
    this.setState(offline ? "offline" : "reconnecting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  retryNow() {
    if (this.socket || this.stopped) return;
    this.attempt = 0;
    this.setState("reconnecting");
    this.connect();
  }
}

// --------------------------------------------------------------------------- sound and notifications

function stored(key) {
  try {
    return window.localStorage.getItem(key);
  } catch (error) {
    return null;
  }
}

function store(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch (error) {
    // Private windows may refuse storage: the choice then lasts for this page only.
  }
}

/** A short beep per new alert, synthesized with the Web Audio API; off by default. */
class Beeper {
  constructor(button) {
    this.button = button;
    this.enabled = stored(SOUND_KEY) === "on";
    this.context = null;
    this.lastBeep = 0;
    const Context = window.AudioContext || window.webkitAudioContext;
    this.supported = Boolean(Context);
    this.Context = Context;
    if (button) button.addEventListener("click", () => this.toggle());
    // Browsers start audio only after a gesture: the first click or key on the page.
    const unlock = () => {
      if (this.enabled) this.audio();
    };
    document.addEventListener("pointerdown", unlock, { once: true });
    document.addEventListener("keydown", unlock, { once: true });
    this.render();
  }

  render() {
    if (!this.button) return;
    this.button.setAttribute("aria-pressed", String(this.enabled));
    this.button.textContent = this.enabled ? gettext("Sound: on") : gettext("Sound: off");
    this.button.disabled = !this.supported;
    if (!this.supported) this.button.title = gettext("This browser cannot play sounds.");
  }

  toggle() {
    this.enabled = !this.enabled;
    store(SOUND_KEY, this.enabled ? "on" : "off");
    this.render();
    if (this.enabled) this.beep("info", { force: true });
  }

  audio() {
    if (!this.supported) return null;
    if (!this.context) this.context = new this.Context();
    if (this.context.state === "suspended") this.context.resume();
    return this.context;
  }

  beep(severity, { force = false } = {}) {
    if (!this.enabled) return;
    const now = Date.now();
    // Several alerts at once make one beep, not a burst.
    if (!force && now - this.lastBeep < 1500) return;
    this.lastBeep = now;
    const context = this.audio();
    if (!context) return;
    const tones = { critical: [880, 660, 880], warning: [740, 740], info: [620] }[severity] || [740];
    let at = context.currentTime + 0.02;
    for (const frequency of tones) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.2);
      at += 0.25;
    }
  }
}

/** Desktop notifications of new alerts; permission is asked only on the button's click. */
class Notifier {
  constructor(button, say) {
    this.button = button;
    this.say = say;
    this.supported = "Notification" in window;
    this.enabled =
      this.supported && Notification.permission === "granted" && stored(NOTIFY_KEY) === "on";
    if (button) button.addEventListener("click", () => this.click());
    this.render();
  }

  render() {
    if (!this.button) return;
    this.button.setAttribute("aria-pressed", String(this.enabled));
    this.button.textContent = this.enabled
      ? gettext("Desktop notifications: on")
      : gettext("Desktop notifications: off");
    if (!this.supported) {
      this.button.disabled = true;
      this.button.title = gettext("This browser does not show desktop notifications.");
    }
  }

  async click() {
    if (!this.supported) return;
    if (this.enabled) {
      this.enabled = false;
      store(NOTIFY_KEY, "off");
      this.render();
      return;
    }
    let permission = Notification.permission;
    if (permission === "default") permission = await Notification.requestPermission();
    if (permission === "granted") {
      this.enabled = true;
      store(NOTIFY_KEY, "on");
    } else {
      this.say(
        gettext(
          "The browser blocks notifications from this dashboard: allow them in the browser's site settings, then try again."
        )
      );
    }
    this.render();
  }

  notify(alert, labels, onClick) {
    if (!this.enabled || Notification.permission !== "granted") return;
    const severity = labels.severity[alert.severity] || alert.severity;
    try {
      const notification = new Notification(`${severity}: ${alert.title}`, {
        body: [alert.camera_name, alert.summary].filter(Boolean).join(" — "),
        tag: `alert-${alert.id}`,
        lang: language,
      });
      notification.addEventListener("click", () => {
        window.focus();
        onClick();
        notification.close();
      });
    } catch (error) {
      // Some platforms allow notifications only from a service worker.
      console.warn("notification not shown:", error);
    }
  }
}

// --------------------------------------------------------------------------- camera tiles

/** The reason an event gives for analysis being unavailable on a camera, "" if it is not. */
export function analysisUnavailable(event) {
  if (event.analysis === "unavailable" || event.analysis_unavailable) {
    return event.analysis_reason || event.reason || gettext("no reason given");
  }
  return "";
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

class Tile {
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
    const reason = analysisUnavailable(event);
    this.setAnalysis(reason);
    const token = ++this.loading;
    const next = new Image();
    next.addEventListener("load", () => {
      if (token !== this.loading) return;
      this.image.src = next.src;
      this.image.hidden = false;
      if (this.noFrame) this.noFrame.hidden = true;
      this.setFrameSize(event.frame_size || [next.naturalWidth, next.naturalHeight]);
      this.view.set(event);
      this.canvas.classList.remove("stale");
      this.setCaption(event.problems || []);
      this.seen.textContent = fmt(gettext("Analysed at %(time)s"), {
        time: formatMoment(event.captured_at || event.at),
      });
      this.seen.setAttribute("datetime", event.captured_at || event.at || "");
    });
    next.src = this.frameUrl(event.frame ?? Date.now());
    this.analysedAt = initial ? Date.parse(event.at || "") || 0 : Date.now();
    this.stillAt = Date.now();
    this.root.dataset.frame = String(event.frame ?? "");
  }

  /** Reload the latest picture without an overlay (no analysis came for a while). */
  refreshStill() {
    const token = ++this.loading;
    const next = new Image();
    next.addEventListener("load", () => {
      if (token !== this.loading) return;
      this.image.src = next.src;
      this.image.hidden = false;
      if (this.noFrame) this.noFrame.hidden = true;
      this.setFrameSize([next.naturalWidth, next.naturalHeight]);
      this.view.clear();
      this.setCaption([]);
    });
    next.src = this.frameUrl(`t${Date.now()}`);
    this.stillAt = Date.now();
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
    } else if ("analysis" in event || "analysis_unavailable" in event) {
      this.setAnalysis(analysisUnavailable(event));
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

// --------------------------------------------------------------------------- the alert feed

class FeedItem {
  constructor(alert, feed) {
    this.feed = feed;
    this.alert = alert;
    const labels = feed.labels;
    this.severity = element("span", { className: "severity-badge" });
    this.title = element("a", { className: "alert-title" });
    this.statusBadge = element("span", { className: "status-badge", dataset: { role: "status" } });
    this.camera = element("span", { className: "alert-camera" });
    this.opened = element("time", { className: "alert-opened" });
    this.count = element("span", { className: "alert-count" });
    this.summary = element("p", { className: "alert-summary" });
    this.who = element("p", { className: "alert-who" });
    this.error = element("p", { className: "alert-error", role: "alert", hidden: true });
    this.actions = element("div", { className: "alert-actions" });
    this.form = null;
    if (feed.canAcknowledge) {
      this.acknowledgeButton = element("button", {
        type: "button",
        className: "small",
        dataset: { action: "acknowledge" },
        text: gettext("Acknowledge"),
      });
      this.resolveButton = element("button", {
        type: "button",
        className: "small",
        dataset: { action: "resolve" },
        text: gettext("Resolve…"),
      });
      this.acknowledgeButton.addEventListener("click", () => this.acknowledge());
      this.resolveButton.addEventListener("click", () => this.openResolve());
      this.actions.append(this.acknowledgeButton, this.resolveButton);
    }
    this.root = element(
      "li",
      { className: "alert-item", dataset: { alert: alert.id } },
      element("div", { className: "alert-head" }, this.severity, this.title, this.statusBadge),
      element("p", { className: "alert-meta" }, this.camera, " · ", this.opened, " · ", this.count),
      this.summary,
      this.who,
      this.error,
      this.actions
    );
    this.labels = labels;
    this.update(alert);
  }

  update(alert) {
    this.alert = { ...this.alert, ...alert };
    const a = this.alert;
    const labels = this.labels;
    this.root.className = `alert-item severity-${a.severity} status-${a.status}`;
    this.root.dataset.status = a.status;
    this.root.dataset.camera = String(a.camera);
    this.severity.textContent = labels.severity[a.severity] || a.severity;
    this.title.textContent = a.title;
    this.title.href = urlFor(this.feed.urls.alert_page, a.id);
    this.statusBadge.textContent = labels.status[a.status] || a.status;
    this.camera.textContent = a.camera_name || "";
    this.opened.textContent = formatMoment(a.opened_at);
    this.opened.setAttribute("datetime", a.opened_at || "");
    this.count.textContent = fmt(ngettext("%(count)s frame", "%(count)s frames", a.count || 0), {
      count: a.count || 0,
    });
    this.summary.textContent = a.summary || "";
    this.summary.hidden = !a.summary;
    this.who.textContent = this.whoText(a);
    this.who.hidden = !this.who.textContent;
    if (this.acknowledgeButton) {
      this.acknowledgeButton.hidden = a.status !== "open";
      this.resolveButton.hidden = a.status === "resolved" || Boolean(this.form);
      this.actions.hidden = a.status === "resolved" && !this.form;
      if (a.status === "resolved" && this.form) this.closeResolve();
    }
  }

  whoText(a) {
    if (a.status === "resolved") {
      if (!a.resolved_by) return gettext("Resolved by itself: the condition stayed clear.");
      const text = fmt(gettext("Resolved by %(user)s"), { user: a.resolved_by });
      return a.resolution_note ? `${text}: ${a.resolution_note}` : text;
    }
    if (a.status === "acknowledged" && a.acknowledged_by) {
      return fmt(gettext("Acknowledged by %(user)s"), { user: a.acknowledged_by });
    }
    return "";
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  busy(on) {
    for (const button of this.actions.querySelectorAll("button")) button.disabled = on;
  }

  async acknowledge() {
    this.showError("");
    this.busy(true);
    const answer = await this.feed.post(urlFor(this.feed.urls.acknowledge, this.alert.id), {
      note: "",
    });
    this.busy(false);
    this.answered(answer);
  }

  openResolve() {
    if (this.form) return;
    this.showError("");
    const noteId = `resolve-note-${this.alert.id}`;
    const note = element("textarea", {
      id: noteId,
      name: "note",
      rows: 2,
      required: true,
      maxlength: 5000,
    });
    const submit = element("button", { type: "submit", className: "primary small", text: gettext("Resolve") });
    const cancel = element("button", { type: "button", className: "small", text: gettext("Cancel") });
    this.form = element(
      "form",
      { className: "resolve-form" },
      element("label", { for: noteId, text: gettext("How was it resolved?") }),
      note,
      element("div", { className: "resolve-buttons" }, submit, cancel)
    );
    cancel.addEventListener("click", () => this.closeResolve());
    this.form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = note.value.trim();
      if (!text) {
        this.showError(gettext("Say how the alert was resolved: a note is required."));
        note.focus();
        return;
      }
      this.showError("");
      submit.disabled = true;
      const answer = await this.feed.post(urlFor(this.feed.urls.resolve, this.alert.id), {
        note: text,
      });
      submit.disabled = false;
      if (answer.ok) this.closeResolve();
      this.answered(answer);
    });
    this.actions.after(this.form);
    this.update({});
    note.focus();
  }

  closeResolve() {
    if (!this.form) return;
    this.form.remove();
    this.form = null;
    this.update({});
  }

  async answered(answer) {
    if (answer.ok) {
      this.feed.upsert(answer.data);
      return;
    }
    if (answer.status === 409) {
      this.showError(gettext("Someone changed this alert in the meantime; it is shown as it is now."));
      const fresh = await this.feed.get(urlFor(this.feed.urls.alert_api, this.alert.id));
      if (fresh.ok) this.feed.upsert(fresh.data);
    } else if (answer.status === 403) {
      this.showError(gettext("Your roles do not include acknowledging and resolving alerts."));
    } else if (answer.status === 400) {
      this.showError(gettext("Say how the alert was resolved: a note is required."));
    } else if (answer.status === 0) {
      this.showError(gettext("The server could not be reached. Try again."));
    } else {
      this.showError(fmt(gettext("The server refused (%(status)s). Try again."), { status: answer.status }));
    }
  }
}

class Feed {
  constructor(list, { canAcknowledge, urls, labels, csrfToken, onChange }) {
    this.list = list;
    this.canAcknowledge = canAcknowledge;
    this.urls = urls;
    this.labels = labels;
    this.csrfToken = csrfToken;
    this.onChange = onChange;
    this.items = new Map();
    this.empty = element("li", { className: "empty", text: gettext("No alert so far.") });
  }

  load(alerts) {
    this.items.clear();
    this.list.replaceChildren();
    const newestFirst = [...alerts].sort(byNewest);
    for (const alert of newestFirst) {
      const item = new FeedItem(alert, this);
      this.items.set(alert.id, item);
      this.list.append(item.root);
    }
    this.changed();
  }

  /** Add or update an alert; returns true when it was not in the feed yet. */
  upsert(alert) {
    if (!alert || alert.id === undefined) return false;
    const existing = this.items.get(alert.id);
    if (existing) {
      existing.update(alert);
      this.changed();
      return false;
    }
    const item = new FeedItem(alert, this);
    this.items.set(alert.id, item);
    const later = [...this.items.values()].find(
      (other) => other !== item && byNewest(alert, other.alert) < 0
    );
    if (later) later.root.before(item.root);
    else this.list.append(item.root);
    item.root.classList.add("arrived");
    this.trim();
    this.changed();
    return true;
  }

  trim() {
    if (this.items.size <= FEED_LIMIT) return;
    const oldestResolved = [...this.items.values()]
      .filter((item) => item.alert.status === "resolved" && !item.form)
      .sort((a, b) => byNewest(b.alert, a.alert));
    while (this.items.size > FEED_LIMIT && oldestResolved.length) {
      const item = oldestResolved.shift();
      item.root.remove();
      this.items.delete(item.alert.id);
    }
  }

  changed() {
    if (this.items.size === 0) this.list.replaceChildren(this.empty);
    else this.empty.remove();
    this.onChange();
  }

  /** Unresolved alerts per camera: camera id -> {count, worst}. */
  unresolvedByCamera() {
    const found = new Map();
    for (const { alert } of this.items.values()) {
      if (alert.status === "resolved") continue;
      const entry = found.get(alert.camera) || { count: 0, worst: null };
      entry.count += 1;
      if (!entry.worst || SEVERITY_RANK[alert.severity] > SEVERITY_RANK[entry.worst]) {
        entry.worst = alert.severity;
      }
      found.set(alert.camera, entry);
    }
    return found;
  }

  focus(alertId) {
    const item = this.items.get(alertId);
    if (!item) return;
    item.root.scrollIntoView({ block: "nearest", behavior: "smooth" });
    item.title.focus();
  }

  async post(url, body) {
    return this.request(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": this.csrfToken,
      },
      body: JSON.stringify(body),
    });
  }

  async get(url) {
    return this.request(url, { headers: { Accept: "application/json" } });
  }

  async request(url, options) {
    try {
      const response = await fetch(url, { credentials: "same-origin", ...options });
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      return { ok: response.ok, status: response.status, data };
    } catch (error) {
      return { ok: false, status: 0, data: null };
    }
  }
}

function byNewest(a, b) {
  const at = (alert) => Date.parse(alert.opened_at || "") || 0;
  return at(b) - at(a) || (b.id || 0) - (a.id || 0);
}

// --------------------------------------------------------------------------- the page

const CONNECTION_TEXT = {
  connecting: () => gettext("Connecting…"),
  connected: () => gettext("Connected"),
  reconnecting: () => gettext("Reconnecting…"),
  offline: () => gettext("Offline"),
};
const CONNECTION_HELP = {
  connecting: () => gettext("Opening the live connection."),
  connected: () => gettext("Live: alerts and pictures arrive as they happen."),
  reconnecting: () => gettext("The live connection dropped; trying again. Nothing is lost meanwhile."),
  offline: () =>
    gettext("Not connected: the wall is not updating. It reconnects by itself and catches up."),
};

class LiveWall {
  constructor(root, data) {
    this.root = root;
    this.data = data;
    this.labels = data.labels;
    this.indicator = document.getElementById("connection");
    this.message = document.getElementById("feed-message");
    this.tiles = new Map();
    for (const camera of data.cameras) {
      const node = root.querySelector(`[data-camera="${camera.id}"]`);
      if (!node) continue;
      this.tiles.set(
        camera.id,
        new Tile(node, camera, {
          urls: data.urls,
          labels: data.labels,
          regionColours: data.region_colours,
        })
      );
    }
    this.feed = new Feed(document.getElementById("feed"), {
      canAcknowledge: data.can_acknowledge,
      urls: data.urls,
      labels: data.labels,
      csrfToken: root.dataset.csrf,
      onChange: () => this.countAlerts(),
    });
    this.beeper = new Beeper(document.getElementById("sound-toggle"));
    this.notifier = new Notifier(document.getElementById("notify-toggle"), (text) => this.say(text));
    this.socket = new LiveSocket({
      path: data.socket_path,
      lastEventId: data.last_event_id,
      onEvent: (event) => this.handle(event),
      onState: (state) => this.showConnection(state),
      onResync: () => this.resync(),
      onRefused: (code) => this.refused(code),
    });
  }

  start() {
    this.feed.load(this.data.alerts);
    for (const [cameraId, event] of Object.entries(this.data.statuses || {})) {
      this.tiles.get(Number(cameraId))?.status(event);
    }
    for (const [cameraId, items] of Object.entries(this.data.analysis_health || {})) {
      for (const item of items) this.tiles.get(Number(cameraId))?.healthOf(item);
    }
    for (const [cameraId, event] of Object.entries(this.data.overlays || {})) {
      this.tiles.get(Number(cameraId))?.analysed(event, { initial: true });
    }
    setInterval(() => {
      const now = Date.now();
      for (const tile of this.tiles.values()) tile.tick(now);
    }, 5000);
    this.socket.start();
  }

  handle(event) {
    switch (event.type) {
      case "alert.opened": {
        const isNew = this.feed.upsert(event.alert);
        if (isNew) this.announce(event.alert);
        break;
      }
      case "alert.updated":
      case "alert.acknowledged":
      case "alert.resolved":
        this.feed.upsert(event.alert);
        break;
      case "frame.analyzed":
        this.tiles.get(event.camera)?.analysed(event);
        break;
      case "camera.status":
        this.tiles.get(event.camera)?.status(event);
        break;
      case "analysis.health":
        this.tiles.get(event.camera)?.healthOf(event);
        break;
      default:
        break;
    }
  }

  announce(alert) {
    this.beeper.beep(alert.severity);
    this.notifier.notify(alert, this.labels, () => this.feed.focus(alert.id));
  }

  countAlerts() {
    const counts = this.feed.unresolvedByCamera();
    for (const [cameraId, tile] of this.tiles) {
      const entry = counts.get(cameraId) || { count: 0, worst: null };
      tile.setAlerts(entry.count, entry.worst);
    }
  }

  showConnection(state) {
    if (!this.indicator) return;
    this.indicator.dataset.state = state;
    this.indicator.querySelector(".connection-text").textContent = CONNECTION_TEXT[state]();
    this.indicator.title = CONNECTION_HELP[state]();
    if (state === "connected" && this.message?.dataset.kind === "connection") this.say("");
  }

  say(text, kind = "") {
    if (!this.message) return;
    this.message.textContent = text;
    this.message.dataset.kind = kind;
    this.message.hidden = !text;
  }

  refused(code) {
    this.say(
      code === 4401
        ? gettext("Your session has ended: sign in again to get live updates.")
        : gettext("Your roles do not include watching the live wall."),
      "refused"
    );
  }

  /** Too much was missed to replay: reload the feed and camera health from the API. */
  async resync() {
    const base = this.data.urls.alerts_api;
    const [unresolved, recent, cameras] = await Promise.all([
      this.feed.get(`${base}?status=open&status=acknowledged`),
      this.feed.get(base),
      this.feed.get(this.data.urls.cameras_api),
    ]);
    if (unresolved.ok && recent.ok) {
      const alerts = new Map();
      for (const alert of [...(recent.data.results || []), ...(unresolved.data.results || [])]) {
        alerts.set(alert.id, alert);
      }
      this.feed.load([...alerts.values()]);
    } else {
      this.say(gettext("The alert feed could not be brought up to date: reload the page."), "connection");
    }
    if (cameras.ok) {
      for (const camera of cameras.data.results || cameras.data || []) {
        this.tiles.get(camera.id)?.setHealth(camera.health, camera.health_reason);
      }
    }
  }
}

function start() {
  const root = document.getElementById("live");
  const source = document.getElementById("live-data");
  if (!root || !source) return null;
  const wall = new LiveWall(root, JSON.parse(source.textContent));
  wall.start();
  root.dataset.ready = "true";
  return wall;
}

start();
