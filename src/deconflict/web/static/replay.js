// Replay: the picture at a past time T, from the record (GET /v1/ledger/picture?at=T), never from the live tables.
// While replaying, live updates stop (app.js closes the stream and stops polling); leaving restores them.

import { COLOUR, CONFLICT, DASH, utcInput } from "/ui/static/common.js";

const SPAN_H = 24;              // the slider reaches this far back
const STEP_S = 60;
const FETCH_DELAY_MS = 250;

function trackName(key) {
  if (key.startsWith("alert:")) return "OTHER (identity not disclosed)";
  return key.replace(/^(asset|icao):/, "");
}

export function initReplay(ctx) {
  const { L, map, api, el, $, dayHhmm, me, onEnter, onLeave } = ctx;
  const layer = L.layerGroup();
  const R = { on: false, timer: null, asked: 0, names: new Map() };

  const nameOf = (id) => (id === me().id ? `${me().name} (you)` : R.names.get(id) || "another party");

  function drawPicture(p) {
    layer.clearLayers();
    const mine = me().id;
    for (const d of p.declarations) {
      if (!d.geometry) continue;
      const own = d.owner_id === mine;
      const colour = COLOUR[d.kind] || "#333";
      const shape = L.geoJSON(d.geometry, { style: { color: colour, weight: own ? 4 : 2,
        dashArray: d.precision === "coarse" ? "3 3" : DASH[d.kind] || null, fillColor: colour, fillOpacity: 0.15 } });
      shape.bindPopup(() => el("div", { class: "popup" }, el("strong", {}, d.title || `${d.kind} by ${nameOf(d.owner_id)}`),
        el("dl", {}, el("dt", {}, "As known then"), el("dd", {}, d.precision),
          el("dt", {}, "Altitude"), el("dd", {}, `${Math.round(d.altitude.lower_m)} m – ${Math.round(d.altitude.upper_m)} m`),
          el("dt", {}, "Window"), el("dd", {}, `${dayHhmm(d.window.start)} – ${dayHhmm(d.window.end)}`))));
      shape.addTo(layer);
      shape.eachLayer((l) => {
        const node = l.getElement && l.getElement();
        if (node) {
          node.setAttribute("data-replay-declaration", d.id);
          node.setAttribute("data-precision", d.precision);
          node.setAttribute("data-disclosure", own ? "own" : d.precision);
        }
      });
    }
    for (const t of p.tracks) {
      const label = `${trackName(t.key)}${t.alt_m !== null && t.alt_m !== undefined ? ` ${Math.round(t.alt_m)} m` : ""}`
        + ` @${dayHhmm(t.t)}`;
      L.marker([t.lat, t.lng], { keyboard: false, icon: L.divIcon({ className: "ac-icon", iconSize: null,
        html: el("div", { class: "ac ac-recorded", dataset: { replayTrack: t.key } },
          el("span", { class: "arrow", "aria-hidden": "true" }, "\u25C6"), el("span", { class: "label" }, label)) }) })
        .addTo(layer);
    }
    for (const a of p.alerts) {
      const pts = a.tracks.filter((x) => x.lat !== null && x.lng !== null).map((x) => [x.lat, x.lng]);
      if (pts.length < 2) continue;
      const line = L.polyline(pts, { color: CONFLICT, weight: 3, dashArray: "4 6" }).addTo(layer);
      line.bindPopup(() => el("div", { class: "popup" }, el("strong", {}, "TRAFFIC ALERT (recorded)"),
        el("p", {}, `Raised ${dayHhmm(a.raised_at)}: ${a.tracks.map((x) => trackName(x.key)).join(" and ")}`)));
      const node = line.getElement && line.getElement();
      if (node) node.setAttribute("data-replay-alert", a.id);
    }
    $("#replay-decls").replaceChildren(...p.declarations.map((d) => el("li", { dataset: { declaration: d.id } },
      el("span", { class: "when" }, `${dayHhmm(d.window.start)}–${dayHhmm(d.window.end)} `),
      `${d.kind} · ${nameOf(d.owner_id)}${d.title ? ` · ${d.title}` : ""} `,
      el("span", { class: "tag" }, d.precision.toUpperCase()), ` ${d.state}`)));
    if (!p.declarations.length) $("#replay-decls").append(el("li", { class: "muted" }, "Nothing declared then."));
    $("#replay-notes").replaceChildren(...p.notifications.map((n) => el("li", { dataset: { notification: n.id } },
      `${n.reason} from ${nameOf(n.sender_id)}, delivered ${n.delivered_at ? dayHhmm(n.delivered_at) : "?"}`,
      n.late ? el("span", { class: "tag late" }, "LATE") : null,
      ` — ${n.ack.state}${n.ack.reply ? `: ${n.ack.reply.replace("_", " ")}` : ""}`)));
    if (!p.notifications.length) $("#replay-notes").append(el("li", { class: "muted" }, "None received by then."));
    const kinds = { separation: "separation", hazard_entry: "hazard entry", non_conformance: "non-conformance" };
    const byKind = Object.entries(kinds).map(([k, name]) => [name, p.alerts.filter((a) => (a.kind || "separation") === k)
      .length]).filter(([, n]) => n).map(([name, n]) => `${n} ${name}`);
    $("#replay-alerts").textContent = p.alerts.length
      ? `${p.alerts.length} traffic alert(s) active then: ${byKind.join(", ")}` : "";
    $("#replay-status").textContent = `The record at ${dayHhmm(p.at)} (tree of ${p.tree_size} entries): `
      + `${p.declarations.length} declarations, ${p.notifications.length} notifications.`;
    document.body.dataset.replayAt = p.at;
  }

  async function show(ms) {
    const asked = ++R.asked;
    $("#replay-at").value = utcInput(ms, true);
    $("#replay-slider").setAttribute("aria-valuetext", `${new Date(ms).toISOString().slice(0, 19)}Z`);
    $("#replay-status").textContent = "Loading the record…";
    try {
      const p = await api(`/v1/ledger/picture?at=${encodeURIComponent(new Date(ms).toISOString())}`);
      if (asked === R.asked && R.on) drawPicture(p);
    } catch (e) {
      if (asked === R.asked) {
        layer.clearLayers();
        $("#replay-status").textContent = `Replay unavailable: ${e.message}`;
      }
    }
  }

  function later(ms) {
    clearTimeout(R.timer);
    R.timer = setTimeout(() => show(ms), FETCH_DELAY_MS);
  }

  async function enter() {
    R.on = true;
    onEnter();
    layer.addTo(map);
    const now = Date.now();  // to the millisecond: an entry recorded this very second is part of "now"
    const slider = $("#replay-slider");
    slider.min = String((now - SPAN_H * 3600e3) / 1000);
    slider.max = String(now / 1000);
    slider.step = String(STEP_S);
    slider.value = slider.max;
    $("#replay-from").textContent = dayHhmm(new Date(now - SPAN_H * 3600e3).toISOString());
    $("#replay-to").textContent = dayHhmm(new Date(now).toISOString());
    $("#replay-bar").hidden = false;
    $("#replay-view").hidden = false;
    $("#replay-toggle").setAttribute("aria-pressed", "true");
    $("#replay-toggle").hidden = true;
    try {
      const parties = (await api("/v1/parties")).parties;
      R.names = new Map(parties.map((x) => [x.id, x.name]));
    } catch { /* ids stay unnamed */ }
    slider.focus();
    show(now);
  }

  function leave() {
    R.on = false;
    R.asked++;
    clearTimeout(R.timer);
    layer.clearLayers();
    layer.remove();
    $("#replay-bar").hidden = true;
    $("#replay-view").hidden = true;
    $("#replay-toggle").setAttribute("aria-pressed", "false");
    $("#replay-toggle").hidden = false;
    delete document.body.dataset.replayAt;
    onLeave();
    $("#replay-toggle").focus();
  }

  $("#replay-toggle").addEventListener("click", enter);
  $("#replay-live").addEventListener("click", leave);
  $("#replay-slider").addEventListener("input", (ev) => {
    const ms = Number(ev.target.value) * 1000;
    $("#replay-at").value = utcInput(ms, true);
    later(ms);
  });
  $("#replay-at").addEventListener("change", (ev) => {
    const ms = Date.parse(`${ev.target.value.length === 16 ? `${ev.target.value}:00` : ev.target.value}Z`);
    if (!Number.isFinite(ms)) return;
    $("#replay-slider").value = String(Math.round(ms / 1000));
    later(ms);
  });
  for (const [id, step] of [["replay-back10", -600], ["replay-back1", -60], ["replay-fwd1", 60],
    ["replay-fwd10", 600]]) {
    $(`#${id}`).addEventListener("click", () => {
      const slider = $("#replay-slider");
      const v = Math.min(Number(slider.max), Math.max(Number(slider.min), Number(slider.value) + step));
      slider.value = String(v);
      $("#replay-at").value = utcInput(v * 1000, true);
      later(v * 1000);
    });
  }
  return { active: () => R.on };
}
