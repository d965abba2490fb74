/**
 * The live socket of the live wall (/ws/live/, described in docs/alerts.md): reopened by
 * itself with exponential backoff and jitter, resuming from the last event it saw
 * (`?last_event_id=`), dropping events it already has (by id), closing a connection that
 * stays silent past the heartbeat, and telling the page when it must resync.
 */

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
