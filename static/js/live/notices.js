/**
 * How the live wall makes itself heard: a Web Audio beep per new alert and desktop
 * notifications. Both are off until the operator turns them on; both choices are
 * remembered in localStorage.
 */

import { gettext, language } from "../common.js";

const SOUND_KEY = "live-wall.sound";
const NOTIFY_KEY = "live-wall.notifications";

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
export class Beeper {
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
export class Notifier {
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
