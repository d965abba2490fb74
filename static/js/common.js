/**
 * The browser helpers every page script shares, so that each exists once:
 *
 * - texts: gettext, ngettext and interpolate from Django's JavaScript catalogue (loaded
 *   before the page's module; English stands in when it is missing) and `fmt`, which
 *   fills named placeholders ("%(name)s");
 * - times in the site's zone (sent by the page shell as <html data-time-zone>), whatever
 *   the browser's zone: `formatMoment`;
 * - the CSRF token and JSON requests to the site's API: `csrfToken`, `sendJson`,
 *   `requestJson`;
 * - DOM building: `element`, `urlFor`;
 * - canvas drawing shared by the overlays and the fence editor: a canvas sized to its
 *   box in device pixels (`fitCanvas`), lines over a dark halo so that they show on
 *   bright and dark pictures alike (`strokeWithHalo`), and labels as text on a block of
 *   the line's colour (`drawTag`).
 */

// --------------------------------------------------------------------------- texts

export const gettext = typeof window.gettext === "function" ? window.gettext : (text) => text;
export const ngettext =
  typeof window.ngettext === "function"
    ? window.ngettext
    : (singular, plural, count) => (count === 1 ? singular : plural);
export const interpolate =
  typeof window.interpolate === "function"
    ? window.interpolate
    : (format, values) => format.replace(/%\((\w+)\)s/g, (match, key) => String(values[key]));
/** A text with named placeholders filled: fmt("%(count)s points", {count: 3}). */
export const fmt = (format, values) => interpolate(format, values, true);

// --------------------------------------------------------------------------- times

/** The page's language ("en", "zh-hans"), or undefined for the browser's own. */
export const language = document.documentElement.lang || undefined;
// Times are shown in the site's zone, sent by the page shell, whatever the browser's zone.
const timeZone = document.documentElement.dataset.timeZone || undefined;
const timeFormat = new Intl.DateTimeFormat(language, { timeStyle: "medium", hourCycle: "h23", timeZone });
const dateTimeFormat = new Intl.DateTimeFormat(language, {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZone,
});
const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone });

/** An ISO moment as the time alone when it is today in the site's zone, else date and time. */
export function formatMoment(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return "";
  return dayFormat.format(moment) === dayFormat.format(new Date())
    ? timeFormat.format(moment)
    : dateTimeFormat.format(moment);
}

// --------------------------------------------------------------------------- requests

/** The CSRF token: from Django's cookie, else from a form field of the page shell. */
export function csrfToken() {
  const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

/** fetch() to the site's API with the CSRF token, sending `body` (if any) as JSON. */
export function sendJson(method, url, body) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Like sendJson, but never throws: {ok, status, data}, status 0 when unreachable. */
export async function requestJson(method, url, body) {
  try {
    const response = await sendJson(method, url, body);
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

// --------------------------------------------------------------------------- the DOM

/** A new element with attributes (className, dataset, text, others) and children. */
export function element(tag, attributes = {}, ...children) {
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

/** A URL pattern of the page ("/alerts/{id}/") for one id. */
export const urlFor = (pattern, id) => pattern.replace("{id}", encodeURIComponent(String(id)));

// --------------------------------------------------------------------------- canvas

/** The dark halo drawn under every line. */
export const HALO = "rgba(0, 0, 0, 0.55)";

/**
 * Size a canvas to the box of `box` (an element) in device pixels, drawing in CSS pixels;
 * returns the size in CSS pixels.
 */
export function fitCanvas(canvas, context, box) {
  const rect = box.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(rect.width * ratio));
  canvas.height = Math.max(1, Math.round(rect.height * ratio));
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { width: rect.width, height: rect.height };
}

/** Stroke the current path in `colour`, `width` wide, over a halo one pixel wider each side. */
export function strokeWithHalo(ctx, colour, width) {
  ctx.strokeStyle = HALO;
  ctx.lineWidth = width + 2;
  ctx.stroke();
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.stroke();
}

/** Whether dark text reads better than white on a "#rrggbb" colour. */
export function isLight(colour) {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  if (!match) return false;
  const [r, g, b] = match.slice(1).map((hex) => parseInt(hex, 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6;
}

/**
 * A label: `text` on a block of `colour`, its left edge at x (or centred on x), its top at
 * y, kept inside `bounds` ({width, height}, CSS pixels). `contrast` picks dark text on
 * light colours; otherwise the text is white.
 */
export function drawTag(
  ctx,
  text,
  colour,
  x,
  y,
  { bounds, font, pad, height, centre = false, contrast = false, alpha = 1 }
) {
  if (!text) return;
  ctx.save();
  ctx.globalAlpha = alpha;
  ctx.font = font;
  const width = ctx.measureText(text).width + 2 * pad;
  const left = Math.min(Math.max(centre ? x - width / 2 : x, 0), Math.max(bounds.width - width, 0));
  const top = Math.min(Math.max(y, 0), Math.max(bounds.height - height, 0));
  ctx.fillStyle = colour;
  ctx.fillRect(left, top, width, height);
  ctx.fillStyle = contrast && isLight(colour) ? "#1d2430" : "#fff";
  ctx.textBaseline = "middle";
  ctx.fillText(text, left + pad, top + height / 2);
  ctx.restore();
}
