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

import { gettext } from "./common.js";
import { Feed } from "./live/feed.js";
import { Beeper, Notifier } from "./live/notices.js";
import { LiveSocket } from "./live/socket.js";
import { Tile } from "./live/tiles.js";

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
