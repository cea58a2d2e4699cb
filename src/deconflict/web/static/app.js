// Deconflict operations picture: one party's view, from the service's own API and /v1/stream.
// Plain ES module, no build step. Every text from the API goes into the page as text (never as HTML).
import * as L from "/ui/vendor/leaflet/leaflet-src.esm.js";
import { COLOUR, CONFLICT, DASH, pad } from "/ui/static/common.js";
import { initDeclare } from "/ui/static/declare.js";
import { initTracks } from "/ui/static/tracks.js";
import { initReplay } from "/ui/static/replay.js";

const TOKEN_KEY = "deconflict.token";
const HORIZON_H = 6;          // the timeline shows now-30 min .. now+6 h
const PAST_H = 0.5;

const S = {
  token: null, me: null, cursor: null, ws: null, wsTries: 0, loaded: false, fitted: false, selected: null,
  replay: false,
  decls: new Map(), conflicts: new Map(), notes: new Map(), replies: [], threads: new Map(), agreements: [],
  messages: new Map(), openThread: null, renderQueued: false,
};

// -- small helpers ------------------------------------------------------------------------------------------
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function hhmm(iso) {
  const d = new Date(iso);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}Z`;
}
function dayHhmm(iso) {
  const d = new Date(iso);
  const today = new Date().toISOString().slice(0, 10) === d.toISOString().slice(0, 10);
  return today ? hhmm(iso) : `${d.toISOString().slice(5, 10)} ${hhmm(iso)}`;
}
function span(seconds) {
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h} h ${pad(m)} min` : `${m}:${pad(r)}`;
}
function altitude(a) {
  if (!a) return "?";
  return `${Math.round(a.value)} ${a.units === "FT" ? "ft" : "m"}`;
}
const kindLabel = (k) => (k ? k[0].toUpperCase() + k.slice(1) : "Declaration");

class ApiError extends Error {
  constructor(status, message, field) { super(message); this.status = status; this.field = field; }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${S.token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { ...options, headers, body: options.body === undefined ? undefined
    : JSON.stringify(options.body) });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body?.error?.message || r.statusText, body?.error?.field);
  return body;
}

async function pages(path, key) {
  const out = [];
  let after = null;
  for (let i = 0; i < 50; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await api(after ? `${path}${sep}after=${encodeURIComponent(after)}` : path);
    out.push(...body[key]);
    after = body.next;
    if (!after) break;
  }
  return out;
}

// -- the map ------------------------------------------------------------------------------------------------
let map = null;
let declLayer = null;
let conflictLayer = null;
let declaring = null;   // the drawing form (declare.js)
let traffic = null;     // live tracks and alerts (tracks.js)
const shapesById = new Map();   // declaration id -> Leaflet layers (to focus one)

async function initMap() {
  map = L.map("map", { zoomControl: true, attributionControl: true, worldCopyJump: true, minZoom: 2 })
    .setView([45, 15], 4);
  map.attributionControl.setPrefix(false);
  try {
    const base = await fetch("/ui/static/basemap.json").then((r) => r.json());
    L.geoJSON(base, {
      interactive: false,
      style: (f) => f.properties.layer === "fir"
        ? { color: "#7a8ca0", weight: 1, dashArray: "4 4", fill: false }
        : { color: "#8a8f94", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 },
    }).addTo(map);
    map.attributionControl.addAttribution("Borders: Natural Earth · FIRs: traffic sample data (MIT)");
  } catch {
    map.attributionControl.addAttribution("basemap unavailable");
  }
  declLayer = L.layerGroup().addTo(map);
  conflictLayer = L.layerGroup().addTo(map);
  declaring = initDeclare({ L, map, api, el, $, shapesOf, cellsOf, dayHhmm, onDeclared: (r) => {
    keepDeclaration(r.declaration);
    r.conflicts.forEach(keepConflict);
    S.selected = r.declaration.id;
    render();
  } });
  traffic = initTracks({ L, map, api, el, $, span, onChange: () => {} });
  initReplay({ L, map, api, el, $, dayHhmm, me: () => S.me, onEnter: enterReplay, onLeave: leaveReplay });
}

/** Replay: the live picture steps aside (stream closed, polling stopped, live layers off the map). */
function enterReplay() {
  S.replay = true;
  document.body.dataset.mode = "replay";
  const ws = S.ws;
  S.ws = null;
  if (ws) ws.close();
  traffic.setLive(false);
  declaring.setVisible(false);
  declLayer.remove();
  conflictLayer.remove();
  map.closePopup();
  $("#timeline").hidden = true;
  $("#details").hidden = true;
  $("#timeline-h").textContent = "Replay of the record";
  $("#decl-count").hidden = true;
  setLive("paused", "paused (replay)");
}

/** Back to live: everything read afresh, the stream reopened. */
function leaveReplay() {
  S.replay = false;
  document.body.dataset.mode = "live";
  declLayer.addTo(map);
  conflictLayer.addTo(map);
  declaring.setVisible(true);
  $("#timeline").hidden = false;
  $("#details").hidden = false;
  $("#timeline-h").textContent = `Next ${HORIZON_H} hours`;
  $("#decl-count").hidden = false;
  for (const m of [S.decls, S.conflicts, S.notes, S.threads]) m.clear();
  S.cursor = null;
  S.loaded = false;
  setLive("reconnecting", "reconnecting…");
  connect();
}

function tag(layer, attrs) {
  const node = layer.getElement && layer.getElement();
  if (!node) return;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(`data-${k}`, v);
}

function shapesOf(volume, style) {
  const v = volume.volume || {};
  if (v.outline_circle) {
    const c = v.outline_circle;
    const radius = c.radius.units === "FT" ? c.radius.value * 0.3048 : c.radius.value;
    return [L.circle([c.center.lat, c.center.lng], { ...style, radius })];
  }
  if (v.outline_polygon) return [L.polygon(v.outline_polygon.vertices.map((p) => [p.lat, p.lng]), style)];
  return [];
}

function cellsOf(coarse, style) {
  return coarse.cells.map((c) => L.rectangle([[c.lat, c.lng], [c.lat + coarse.cell_deg, c.lng + coarse.cell_deg]],
    style));
}

function conflictIdsOf(declId) {
  const out = [];
  for (const c of S.conflicts.values()) {
    if (c.declaration.id === declId || c.other.declaration_id === declId) out.push(c.id);
  }
  return out;
}

function styleFor(d, inConflict) {
  const own = d.disclosure === "own";
  const colour = COLOUR[d.kind] || "#333";
  return {
    color: inConflict ? CONFLICT : colour,
    weight: own ? 4 : 2,
    dashArray: DASH[d.kind] || null,
    fillColor: colour,
    fillOpacity: d.kind === "hazard" || d.kind === "restriction" ? 0.25 : 0.15,
  };
}

function popupFor(d) {
  const inConflict = conflictIdsOf(d.id).length > 0;
  const rows = [["Owner", d.disclosure === "own" ? `${d.owner} (you)` : d.owner], ["Kind", d.kind],
    ["State", d.state], ["Disclosure", d.disclosure === "own" ? "own: in full" : d.disclosure]];
  if (d.activation && d.kind === "hazard") rows.push(["Activation", d.activation]);
  const bands = [];
  for (const v of d.volumes || []) {
    bands.push(`${altitude(v.volume.altitude_lower)} – ${altitude(v.volume.altitude_upper)}, `
      + `${dayHhmm(v.time_start.value)} – ${dayHhmm(v.time_end.value)}`);
  }
  for (const c of d.coarse || []) {
    bands.push(`${Math.round(c.altitude_lower_m)} m – ${Math.round(c.altitude_upper_m)} m, `
      + `${dayHhmm(c.time_start)} – ${dayHhmm(c.time_end)} (rounded)`);
  }
  bands.forEach((b, i) => rows.push([bands.length > 1 ? `Volume ${i + 1}` : "Altitude, time", b]));
  return el("div", { class: "popup", dataset: { declaration: d.id } },
    el("strong", {}, d.title || `${kindLabel(d.kind)} by ${d.owner}`),
    inConflict ? el("span", { class: "tag conflict" }, "CONFLICT") : null,
    el("dl", {}, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
}

function drawDeclarations() {
  declLayer.clearLayers();
  shapesById.clear();
  for (const d of S.decls.values()) {
    const inConflict = conflictIdsOf(d.id).length > 0;
    const style = styleFor(d, inConflict);
    const layers = d.coarse ? d.coarse.flatMap((c) => cellsOf(c, { ...style, dashArray: "3 3", fillOpacity: 0.12 }))
      : (d.volumes || []).flatMap((v) => shapesOf(v, style));
    for (const layer of layers) {
      layer.addTo(declLayer);
      layer.bindPopup(() => popupFor(d));
      layer.on("click", () => select(d.id, false));
      tag(layer, { declaration: d.id, owner: d.owner, kind: d.kind, disclosure: d.disclosure,
        shape: d.coarse ? "cell" : "volume", conflict: inConflict ? "yes" : "no" });
    }
    shapesById.set(d.id, layers);
  }
}

function drawConflicts() {
  conflictLayer.clearLayers();
  const style = { color: CONFLICT, weight: 3, dashArray: "6 3", fillColor: CONFLICT, fillOpacity: 0.3 };
  for (const c of S.conflicts.values()) {
    const o = c.other;
    let layers = [];
    if (o.area) layers = o.area.flatMap((v) => shapesOf(v, style));
    else if (o.coarse && !S.decls.has(o.declaration_id)) layers = o.coarse.flatMap((x) => cellsOf(x, style));
    else if (o.volumes && !S.decls.has(o.declaration_id)) layers = o.volumes.flatMap((v) => shapesOf(v, style));
    for (const layer of layers) {
      layer.addTo(conflictLayer);
      layer.bindPopup(() => el("div", { class: "popup" }, el("strong", {}, "CONFLICT"),
        el("dl", {}, el("dt", {}, "With"), el("dd", {}, `${o.party} (${o.kind}, ${o.disclosure})`),
          el("dt", {}, "Window"), el("dd", {}, `${dayHhmm(c.window_start)} – ${dayHhmm(c.window_end)}`),
          el("dt", {}, "Severity"), el("dd", {}, c.severity),
          el("dt", {}, "Lateral"), el("dd", {}, `${Math.round(c.lateral_distance_m)} m`),
          el("dt", {}, "Vertical gap"), el("dd", {}, `${Math.round(c.vertical_gap_m)} m`))));
      tag(layer, { "conflict-area": c.id, owner: o.party, disclosure: o.disclosure });
    }
  }
}

function fitOnce() {
  if (S.fitted) return;
  const all = [...shapesById.values()].flat();
  if (!all.length) return;
  const bounds = L.featureGroup(all).getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds.pad(0.3), { maxZoom: 10 });
    S.fitted = true;
  }
}

// -- the timeline and details -------------------------------------------------------------------------------
function windowOf(d) {
  const c = d.coarse && d.coarse.length ? d.coarse : null;
  const start = c ? Math.min(...c.map((x) => Date.parse(x.time_start))) : Date.parse(d.time_start);
  const end = c ? Math.max(...c.map((x) => Date.parse(x.time_end))) : Date.parse(d.time_end);
  return [start, end];
}

function drawTimeline() {
  const now = Date.now();
  const lo = now - PAST_H * 3600e3, hi = now + HORIZON_H * 3600e3;
  const pct = (t) => `${Math.max(0, Math.min(100, ((t - lo) / (hi - lo)) * 100))}%`;
  const between = (a, b) => `left:${pct(a)};width:calc(${pct(b)} - ${pct(a)})`;
  const items = [...S.decls.values()].map((d) => [d, ...windowOf(d)])
    .filter(([, s, e]) => e >= lo && s <= hi)
    .sort((a, b) => a[1] - b[1] || a[0].id.localeCompare(b[0].id));
  const ticks = [];
  for (let t = Math.ceil(lo / 3600e3) * 3600e3; t <= hi; t += 3600e3) {
    ticks.push(el("span", { class: "tick", style: `left:${pct(t)}` }, hhmm(new Date(t).toISOString())));
  }
  const axis = el("li", { class: "axis", "aria-hidden": "true" }, el("span", { class: "muted" },
    "Window (bar) · conflict (CONFLICT, hatched) · ack due (◆)"),
  el("div", { class: "scale" }, ticks, el("div", { class: "now", style: `left:${pct(now)}` })));
  const pending = [...S.notes.values()].filter((n) => !n.acked_at && n.declaration_id);
  const list = $("#timeline");
  list.replaceChildren(axis, ...items.map(([d, s, e]) => {
    const conflicts = [...S.conflicts.values()].filter((c) => c.declaration.id === d.id
      || c.other.declaration_id === d.id);
    const dues = pending.filter((n) => n.declaration_id === d.id);
    const starts = s > now ? `starts in ${span((s - now) / 1000)}` : e > now ? "now active" : "ended";
    const label = `${kindLabel(d.kind)} · ${d.owner}${d.disclosure === "own" ? " (you)" : ""}`
      + `${d.title ? ` · ${d.title}` : ""}`;
    const dueText = dues.map((n) => `ack due ${hhmm(n.ack_deadline_at)}`).join(", ");
    return el("li", { dataset: { declaration: d.id }, "aria-current": S.selected === d.id ? "true" : null },
      el("button", { type: "button", onclick: () => select(d.id, true),
        title: `${label}, ${dayHhmm(new Date(s).toISOString())}–${dayHhmm(new Date(e).toISOString())}`
          + `${dueText ? `; ${dueText}` : ""}` },
      el("span", { class: "when" }, `${dayHhmm(new Date(s).toISOString())}–${hhmm(new Date(e).toISOString())} `),
      conflicts.length ? el("span", { class: "tag conflict" }, "CONFLICT") : null, ` ${label} `,
      el("span", { class: "muted" }, `(${starts}${dueText ? `; ${dueText}` : ""})`)),
      el("div", { class: "track", "aria-hidden": "true" },
        el("div", { class: `bar ${d.kind}`, style: between(s, e) }),
        conflicts.map((c) => el("div", { class: "cmark", dataset: { conflict: c.id },
          style: between(Date.parse(c.window_start), Math.max(Date.parse(c.window_end),
            Date.parse(c.window_start) + 60e3)) })),
        dues.map((n) => el("div", { class: "due-mark", dataset: { due: n.id },
          style: `left:${pct(Date.parse(n.ack_deadline_at))}` }, "◆")),
        el("div", { class: "now", style: `left:${pct(now)}` }),
        el("span", { class: "bar-kind", style: `left:${pct(Math.max(s, lo))}` }, d.kind)));
  }));
  if (!items.length) list.append(el("li", { class: "muted" }, "Nothing declared in the next hours."));
  $("#decl-count").textContent = `${S.decls.size} declarations visible, ${S.conflicts.size} open conflicts`;
}

function select(id, focusMap) {
  S.selected = id;
  const d = S.decls.get(id);
  const details = $("#details");
  if (!d) { details.replaceChildren(); return; }
  details.replaceChildren(popupFor(d));
  for (const li of document.querySelectorAll("#timeline li")) {
    if (li.dataset.declaration === id) li.setAttribute("aria-current", "true");
    else li.removeAttribute("aria-current");
  }
  const layers = shapesById.get(id) || [];
  if (focusMap && layers.length) {
    map.fitBounds(L.featureGroup(layers).getBounds().pad(0.5), { maxZoom: 11 });
    layers[0].openPopup();
  }
}

// -- notifications ------------------------------------------------------------------------------------------
function noteTitle(n) {
  if (n.reason === "alert") return "Traffic alert: your aircraft and another are converging";
  const d = n.payload?.declaration || {};
  const what = d.title ? `${kindLabel(d.kind)} “${d.title}”` : kindLabel(d.kind);
  return n.reason === "conflict" ? `Conflict: ${what} by ${n.sender}` : `${what} by ${n.sender}`;
}

function noteTimes(n, now) {
  const start = (Date.parse(n.starts_at) - now) / 1000;
  const due = (Date.parse(n.ack_deadline_at) - now) / 1000;
  const startText = start >= 0 ? `Starts in ${span(start)} (${dayHhmm(n.starts_at)})`
    : `Started ${span(start)} ago (${dayHhmm(n.starts_at)})`;
  const dueText = due >= 0 ? `Ack due in ${span(due)}` : `Ack OVERDUE by ${span(due)}`;
  return [startText, dueText, due < 0];
}

function drawNotifications() {
  const now = Date.now();
  const pending = [...S.notes.values()].sort((a, b) => Date.parse(a.ack_deadline_at) - Date.parse(b.ack_deadline_at));
  $("#notif-count").textContent = `${pending.filter((n) => !n.acked_at).length} pending`;
  $("#notifications").replaceChildren(...pending.map((n) => {
    const [startText, dueText, overdue] = noteTimes(n, now);
    const reply = el("input", { "aria-label": `Reply text for: ${noteTitle(n)} (optional)`, placeholder: "Reply text (optional)",
      maxlength: "2000" });
    const ack = (kind) => acknowledge(n, kind, reply.value);
    const lead = n.lead_time_s !== null && n.lead_time_s !== undefined ? `lead ${span(n.lead_time_s)}` : "";
    const minNotice = n.min_notice_s ? `, agreed ${span(n.min_notice_s)}` : "";
    return el("li", { class: `note${n.late ? " late" : ""}${n.acked_at ? " acked" : ""}`,
      dataset: { notification: n.id, late: n.late ? "yes" : "no", acked: n.acked_at ? "yes" : "no" } },
    el("div", {}, el("strong", {}, noteTitle(n)),
      n.late ? el("span", { class: "tag late", title: "Delivered with less than the agreed notice" }, "LATE") : null,
      n.escalated ? el("span", { class: "tag late" }, `ESCALATED ×${n.escalation_level}`) : null),
    el("div", { class: "times" }, el("span", { class: "starts" }, startText), " · ",
      el("span", { class: overdue && !n.acked_at ? "due tag overdue" : "due" }, n.acked_at ? "acknowledged" : dueText)),
    lead ? el("div", { class: "muted" }, `Notice: ${lead}${minNotice}${n.late ? " — below the agreed minimum" : ""}`)
      : null,
    n.acked_at ? el("div", { class: "acked-as" }, `Acknowledged: ${n.ack_reply.replace("_", " ")}`)
      : el("div", { class: "actions" }, reply,
        el("button", { type: "button", "data-reply": "noted", onclick: () => ack("noted") }, "Noted"),
        el("button", { type: "button", "data-reply": "request_hold", onclick: () => ack("request_hold") },
          "Request hold"),
        el("button", { type: "button", "data-reply": "object", onclick: () => ack("object") }, "Object")));
  }));
  if (!pending.length) $("#notifications").append(el("li", { class: "muted" }, "Nothing awaits acknowledgement."));
  $("#replies").replaceChildren(...S.replies.slice(0, 10).map((n) => el("li", { dataset: { notification: n.id } },
    `${n.recipient}: ${(n.ack_reply || "noted").replace("_", " ")}`, n.ack_text ? ` — “${n.ack_text}”` : "",
    el("span", { class: "muted" }, ` (${noteTitle(n)})`))));
  if (!S.replies.length) $("#replies").append(el("li", { class: "muted" }, "None yet."));
}

async function acknowledge(n, reply, text) {
  try {
    const body = await api(`/v1/notifications/${encodeURIComponent(n.id)}/ack`, { method: "POST",
      body: { reply, text } });
    S.notes.set(n.id, body.notification);
  } catch (e) {
    alert(`Acknowledgement failed: ${e.message}`);
  }
  drawNotifications();
  drawTimeline();
}

function tickCountdowns() {
  const now = Date.now();
  $("#clock").textContent = `${new Date(now).toISOString().slice(11, 19)}Z`;
  for (const li of document.querySelectorAll("#notifications li[data-notification]")) {
    const n = S.notes.get(li.dataset.notification);
    if (!n) continue;
    const [startText, dueText, overdue] = noteTimes(n, now);
    li.querySelector(".starts").textContent = startText;
    const due = li.querySelector(".due");
    if (!n.acked_at) {
      due.textContent = dueText;
      due.className = overdue ? "due tag overdue" : "due";
    }
  }
}

// -- the hotline --------------------------------------------------------------------------------------------
function drawThreads() {
  const threads = [...S.threads.values()].sort((a, b) =>
    (b.last_message_at || b.created_at).localeCompare(a.last_message_at || a.created_at));
  $("#threads").replaceChildren(...threads.map((t) => el("li", {},
    el("button", { type: "button", dataset: { thread: t.id }, "aria-current": S.openThread === t.id ? "true" : null,
      onclick: () => openThread(t.id) },
    t.subject || "(no subject)", el("span", { class: "muted" }, ` — ${t.participants.join(", ")}`),
    t.unread ? el("strong", { class: "unread" }, ` · ${t.unread} unread`) : null))));
  if (!threads.length) $("#threads").append(el("li", { class: "muted" }, "No threads yet."));
  $("#thread-agreement").replaceChildren(...S.agreements.map((a) =>
    el("option", { value: a.id }, `${a.name} (${a.parties.join(", ")})`)));
}

function structuredText(s) {
  if (!s) return null;
  if (s.type === "request_hold") return `REQUEST HOLD${s.until ? ` until ${dayHhmm(s.until)}` : ""}${s.reason ? `: ${s.reason}` : ""}`;
  if (s.type === "hold_until") return `HOLDING until ${dayHhmm(s.until)}${s.reason ? `: ${s.reason}` : ""}`;
  if (s.type === "position_report") {
    return `POSITION ${s.asset || ""} ${s.lat.toFixed(4)}, ${s.lng.toFixed(4)}`
      + `${s.altitude_m !== null && s.altitude_m !== undefined ? ` at ${Math.round(s.altitude_m)} m` : ""}`;
  }
  return s.type;
}

function receiptText(m) {
  if (m.receipts) {
    return m.receipts.map((r) => `${r.party}: ${r.read_at ? `read ${hhmm(r.read_at)}`
      : r.delivered_at ? `delivered ${hhmm(r.delivered_at)}` : "sent"}`).join(" · ");
  }
  return "";
}

function drawMessages() {
  const list = $("#messages");
  const msgs = [...(S.messages.get(S.openThread) || new Map()).values()].sort((a, b) => a.n - b.n);
  list.replaceChildren(...msgs.map((m) => {
    const mine = m.sender === S.me?.name;
    return el("li", { class: `msg${mine ? " mine" : ""}`, dataset: { message: m.id, sender: m.sender } },
      el("div", { class: "meta" }, `${mine ? "You" : m.sender}, ${dayHhmm(m.created_at)}`),
      el("div", { class: "body" }, structuredText(m.structured) ? el("strong", {}, structuredText(m.structured)) : null,
        m.structured && m.text ? " " : null, m.text),
      mine ? el("div", { class: "meta receipts" }, receiptText(m)) : null);
  }));
  if (!msgs.length) list.append(el("li", { class: "muted" }, "No messages yet."));
  list.scrollTop = list.scrollHeight;
}

function keepMessage(m) {
  if (!S.messages.has(m.thread_id)) S.messages.set(m.thread_id, new Map());
  S.messages.get(m.thread_id).set(m.id, m);
}

async function markRead(threadId) {
  const msgs = [...(S.messages.get(threadId) || new Map()).values()].filter((m) => m.sender !== S.me?.name);
  if (!msgs.length) return;
  const last = msgs.sort((a, b) => b.n - a.n)[0];
  if (last.read_at) return;
  try {
    const body = await api(`/v1/threads/${encodeURIComponent(threadId)}/read`, { method: "POST",
      body: { up_to: last.id } });
    S.threads.set(threadId, body.thread);
    for (const m of msgs) if (!m.read_at) m.read_at = new Date().toISOString();
    drawThreads();
  } catch { /* a failed read receipt is retried on the next message */ }
}

async function openThread(id) {
  S.openThread = id;
  const t = S.threads.get(id);
  $("#thread-view").hidden = false;
  $("#thread-title").textContent = t ? `${t.subject || "(no subject)"} — ${t.participants.join(", ")}` : id;
  drawThreads();
  const msgs = await pages(`/v1/threads/${encodeURIComponent(id)}/messages?limit=200`, "messages");
  msgs.forEach(keepMessage);
  drawMessages();
  await markRead(id);
}

// -- loading and the stream ---------------------------------------------------------------------------------
function keepDeclaration(d) {
  if (d.state === "cancelled" || d.state === "ended") S.decls.delete(d.id);
  else if (!S.decls.has(d.id) || S.decls.get(d.id).version <= d.version) S.decls.set(d.id, d);
}

function keepConflict(c) {
  if (c.state === "open") S.conflicts.set(c.id, c);
  else S.conflicts.delete(c.id);
}

function keepNote(n) {
  const old = S.notes.get(n.id);
  if (old && old.acked_at && !n.acked_at) return;   // a re-sent copy of one already acknowledged here
  S.notes.set(n.id, n);
}

function render() {
  if (S.renderQueued) return;
  S.renderQueued = true;
  requestAnimationFrame(() => {
    S.renderQueued = false;
    drawDeclarations();
    drawConflicts();
    fitOnce();
    drawTimeline();
    drawNotifications();
    drawThreads();
    if (S.openThread) drawMessages();
    if (S.selected) select(S.selected, false);
    document.body.dataset.ready = S.loaded ? "yes" : "no";
  });
}

async function loadAll() {
  const [decls, conflicts, notes, threads, agreements] = await Promise.all([
    pages("/v1/declarations?limit=500", "declarations"),
    pages("/v1/conflicts?limit=500", "conflicts"),
    pages("/v1/notifications?box=inbox&pending=true&limit=500", "notifications"),
    pages("/v1/threads?limit=500", "threads"),
    api("/v1/agreements").then((b) => b.agreements),
  ]);
  decls.forEach(keepDeclaration);
  conflicts.forEach(keepConflict);
  notes.forEach(keepNote);
  threads.forEach((t) => S.threads.set(t.id, t));
  S.agreements = agreements;
  S.loaded = true;
  render();
}

function setLive(state, text) {
  const live = $("#live");
  live.dataset.state = state;
  live.textContent = `Stream: ${text}`;
}

function onEvent(e) {
  if (e.cursor !== undefined) S.cursor = e.cursor;
  switch (e.type) {
    case "declaration": keepDeclaration(e.declaration); break;
    case "conflict": keepConflict(e.conflict); break;
    case "notification":
      keepNote(e.notification);
      if (e.notification.reason === "alert" && e.notification.payload?.alert) traffic.alert(e.notification.payload.alert);
      break;
    case "acknowledged": S.replies.unshift(e.notification); break;
    case "thread": S.threads.set(e.thread.id, e.thread); break;
    case "message": {
      keepMessage(e.message);
      const t = S.threads.get(e.message.thread_id);
      if (t && e.message.sender !== S.me?.name) {
        t.message_count += 1;
        t.last_message_at = e.message.created_at;
        if (S.openThread === t.id) markRead(t.id); else t.unread += 1;
      }
      break;
    }
    case "receipt": keepMessage(e.message); break;
    default: return;
  }
  render();
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`);
  S.ws = ws;
  ws.addEventListener("open", () => {
    ws.send(JSON.stringify(S.cursor === null ? { token: S.token } : { token: S.token, since: S.cursor }));
  });
  ws.addEventListener("message", async (msg) => {
    const e = JSON.parse(msg.data);
    if (e.type === "hello") {
      S.wsTries = 0;
      setLive("live", "live");
      const first = S.cursor === null;
      S.cursor = e.cursor;
      if (first) {
        await loadAll();   // after the stream holds its place, so nothing falls between
        if (!S.replay) traffic.setLive(true);
      }
      return;
    }
    if (e.type === "error") { setLive("offline", e.error?.message || "refused"); return; }
    onEvent(e);
  });
  ws.addEventListener("close", (ev) => {
    if (S.ws !== ws) return;
    if (ev.code === 4401) { logout("The service refused the token."); return; }
    setLive("reconnecting", "reconnecting…");
    const delay = Math.min(15000, 500 * 2 ** S.wsTries++);
    setTimeout(() => { if (S.ws === ws && S.token) connect(); }, delay);
  });
}

// -- log in and out -----------------------------------------------------------------------------------------
async function login(token) {
  S.token = token;
  try {
    S.me = (await api("/v1/parties/me")).party;
  } catch (e) {
    S.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("#login-error").textContent = e.status === 401 ? "That token is not known to this service."
      : `Could not log in: ${e.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("#login-view").hidden = true;
  $("#app-view").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = `Logged in as ${S.me.display_name || S.me.name} (${S.me.name})`;
  document.body.dataset.party = S.me.name;
  if (!map) await initMap();
  map.invalidateSize();
  connect();
}

function logout(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  const ws = S.ws;
  S.ws = null;
  if (ws) ws.close();
  location.hash = message ? encodeURIComponent(message) : "";
  location.reload();
}

function start() {
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $("#token").value.trim();
    $("#token").value = "";
    if (token) login(token);
  });
  $("#logout").addEventListener("click", () => logout());
  $("#send-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("#message-text").value;
    if (!text.trim() || !S.openThread) return;
    $("#send-status").textContent = "sending…";
    try {
      const body = await api(`/v1/threads/${encodeURIComponent(S.openThread)}/messages`, { method: "POST",
        body: { text } });
      keepMessage(body.message);
      $("#message-text").value = "";
      $("#send-status").textContent = "sent";
      drawMessages();
    } catch (e) {
      $("#send-status").textContent = `not sent: ${e.message}`;
    }
  });
  $("#new-thread-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const body = await api("/v1/threads", { method: "POST",
        body: { agreement_id: $("#thread-agreement").value, subject: $("#thread-subject").value } });
      S.threads.set(body.thread.id, body.thread);
      $("#thread-subject").value = "";
      $("#new-thread").open = false;
      await openThread(body.thread.id);
    } catch (e) {
      alert(`Could not open the thread: ${e.message}`);
    }
  });
  if (location.hash.length > 1) $("#login-error").textContent = decodeURIComponent(location.hash.slice(1));
  setInterval(tickCountdowns, 1000);
  setInterval(() => { if (S.loaded) render(); }, 30000);   // the timeline's "now" moves
  tickCountdowns();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) login(saved);
}

start();
