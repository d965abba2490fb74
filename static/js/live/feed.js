/**
 * The alert feed of the live wall: newest first, updated in place by alert events, with
 * acknowledge and resolve for operators who may (through the alerts API).
 */

import { element, fmt, formatMoment, gettext, ngettext, requestJson, urlFor } from "../common.js";

const FEED_LIMIT = 200;
export const SEVERITY_RANK = { info: 1, warning: 2, critical: 3 };

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

export class Feed {
  constructor(list, { canAcknowledge, urls, labels, onChange }) {
    this.list = list;
    this.canAcknowledge = canAcknowledge;
    this.urls = urls;
    this.labels = labels;
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

  post(url, body) {
    return requestJson("POST", url, body);
  }

  get(url) {
    return requestJson("GET", url);
  }
}

function byNewest(a, b) {
  const at = (alert) => Date.parse(alert.opened_at || "") || 0;
  return at(b) - at(a) || (b.id || 0) - (a.id || 0);
}
