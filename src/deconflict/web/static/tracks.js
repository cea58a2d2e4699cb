// Live tracks and tactical alerts on the map. The stream carries alert notifications (reason "alert"), not
// positions, so positions come from GET /v1/tracks (what the caller may see: its own aircraft, and others only as
// an active alert shows them), polled every few seconds while live; an alert notification refreshes at once.
// Each marker carries its category in text (OWN / OTHER / UNIDENTIFIED), never by colour alone.

import { CONFLICT } from "/ui/static/common.js";

const POLL_MS = 3000;
const M_PER_DEG = 111320;

/** Where an aircraft would be after `t` seconds at its reported ground speed and track (flat, short range). */
function ahead(side, t) {
  const rad = ((side.track_deg || 0) * Math.PI) / 180;
  const d = (side.ground_speed_mps || 0) * t;
  return [side.lat + (d * Math.cos(rad)) / M_PER_DEG,
    side.lng + (d * Math.sin(rad)) / (M_PER_DEG * Math.max(0.01, Math.cos((side.lat * Math.PI) / 180)))];
}

export function categoryOf(track) {
  if (track.own) return "own";
  return track.identified ? "other" : "unidentified";
}

export function labelOf(track) {
  const name = track.callsign || track.asset_id || track.icao24 || "";
  if (track.own) return `OWN ${name}`.trim();
  if (!track.identified) return `UNIDENTIFIED ${name}`.trim();
  if (track.disclosure === "none" || !track.party) return "OTHER (identity not disclosed)";
  return `OTHER ${track.party} ${name}`.trim();
}

export function initTracks(ctx) {
  const { L, map, api, el, $, span, onChange } = ctx;
  const trackLayer = L.layerGroup().addTo(map);
  const alertLayer = L.layerGroup().addTo(map);
  const T = { tracks: new Map(), alerts: new Map(), timer: null, live: false, busy: false };

  function marker(track, className = "") {
    const cat = categoryOf(track);
    const alt = track.altitude_m !== undefined && track.altitude_m !== null ? `${Math.round(track.altitude_m)} m` : "";
    const node = el("div", { class: `ac ac-${cat}${className ? ` ${className}` : ""}`,
      dataset: { track: track.id || "", category: cat } },
    el("span", { class: "arrow", "aria-hidden": "true", style: `transform: rotate(${track.track_deg || 0}deg)` },
      "\u25B2"),
    el("span", { class: "label" }, `${labelOf(track)} ${alt}`.trim()));
    return L.marker([track.lat, track.lng], { icon: L.divIcon({ className: "ac-icon", html: node, iconSize: null }),
      keyboard: false, title: labelOf(track) });
  }

  /** What the alert is, in text (never by colour): a pair losing separation, an aircraft entering a declared
   *  hazard or protected volume, or one of the party's own aircraft outside all its declared flights. */
  function tagOf(a) {
    if (a.kind === "hazard_entry") return "HAZARD ENTRY";
    if (a.kind === "non_conformance") return "NON-CONFORMANCE";
    return "ALERT";
  }

  function whenText(seconds) {
    return seconds > 0 ? `in ${span(seconds)}` : "now";
  }

  function alertText(a) {
    const p = a.prediction || {};
    if (a.kind === "non_conformance") {
      return `${labelOf({ ...a.own, own: true })} is outside its declared flights (${p.reason || "?"})`;
    }
    if (a.kind === "hazard_entry") {
      const where = `${a.hazard?.party || "?"}'s ${p.declaration_kind || "hazard"}${p.induced ? " (induced)" : ""}`;
      const enters = p.inside_now ? "is inside" : `enters ${whenText((Date.parse(p.loss_at) - Date.now()) / 1000)}`;
      const who = a.own ? labelOf({ ...a.own, own: true }) : labelOf({ ...(a.aircraft || {}), own: false });
      return a.own ? `${who} ${enters} ${where}` : `${who} ${enters} your ${p.declaration_kind || "hazard"}`;
    }
    const cpaIn = (Date.parse(p.cpa_at) - Date.now()) / 1000;
    const lossIn = (Date.parse(p.loss_at) - Date.now()) / 1000;
    return `${labelOf({ ...a.own, own: true })} and ${labelOf({ ...a.other, own: false })}: closest `
      + `${Math.round(p.horizontal_m)} m apart, ${Math.round(p.vertical_m)} m vertically, `
      + `${cpaIn >= 0 ? `in ${span(cpaIn)}` : `${span(cpaIn)} ago`}; separation lost `
      + `${lossIn >= 0 ? `in ${span(lossIn)}` : "now"} (minima ${Math.round(a.minima.lateral_m)} m / `
      + `${Math.round(a.minima.vertical_m)} m)`;
  }

  function draw() {
    trackLayer.clearLayers();
    alertLayer.clearLayers();
    for (const t of T.tracks.values()) marker(t).addTo(trackLayer);
    const style = { color: CONFLICT, weight: 3, dashArray: "4 6" };
    for (const a of T.alerts.values()) {
      if (a.state !== "active" || !a.own?.lat || !a.other?.lat) continue;  // pairs only: a line to the CPA
      const t = Math.max(0, a.prediction?.t_cpa_s || 0);
      const own = ahead(a.own, t), other = ahead(a.other, t);
      const line = L.polyline([[a.own.lat, a.own.lng], own, other, [a.other.lat, a.other.lng]], style)
        .addTo(alertLayer);
      const cpa = L.marker([(own[0] + other[0]) / 2, (own[1] + other[1]) / 2], { keyboard: false,
        icon: L.divIcon({ className: "ac-icon", iconSize: null, html: el("div", { class: "cpa",
          dataset: { cpa: a.id } }, `CPA ${Math.round(a.prediction.horizontal_m)} m`) }) }).addTo(alertLayer);
      line.bindPopup(() => el("div", { class: "popup" }, el("strong", {}, "TRAFFIC ALERT"), el("p", {}, alertText(a))));
      cpa.bindPopup(() => el("div", { class: "popup" }, el("strong", {}, "TRAFFIC ALERT"), el("p", {}, alertText(a))));
      const node = line.getElement && line.getElement();
      if (node) node.setAttribute("data-alert-line", a.id);
    }
    const active = [...T.alerts.values()].filter((a) => a.state === "active");
    $("#alert-count").textContent = `${active.length} active`;
    $("#alerts").replaceChildren(...active.map((a) => el("li", { class: "alert", dataset: { alert: a.id } },
      el("button", { type: "button", onclick: () => focus(a) }, el("span", { class: "tag conflict" }, tagOf(a)), " ",
        alertText(a)))));
    if (!active.length) $("#alerts").append(el("li", { class: "muted" }, "No traffic alerts."));
    $("#track-count").textContent = `${T.tracks.size} aircraft shown`;
  }

  function focus(a) {
    const pts = [a.own, a.other, a.aircraft].filter((s) => s && s.lat !== undefined).map((s) => [s.lat, s.lng]);
    if (pts.length) map.fitBounds(L.latLngBounds(pts).pad(0.5), { maxZoom: 11 });
  }

  async function refresh() {
    if (T.busy) return;
    T.busy = true;
    try {
      const [tracks, alerts] = await Promise.all([api("/v1/tracks"), api("/v1/alerts?state=active&limit=500")]);
      if (!T.live) return;   // replay began meanwhile
      T.tracks = new Map(tracks.tracks.map((t) => [t.id, t]));
      T.alerts = new Map(alerts.alerts.map((a) => [a.id, a]));
      draw();
      onChange();
    } catch { /* the next poll tries again */ } finally {
      T.busy = false;
    }
  }

  return {
    /** An alert from a stream notification: shown at once, then the positions refreshed. */
    alert(a) {
      if (!T.live) return;
      T.alerts.set(a.id, a);
      draw();
      refresh();
    },
    /** Live: poll and draw. Not live (replay): stop polling and show nothing of now. */
    setLive(on) {
      T.live = on;
      clearInterval(T.timer);
      if (on) {
        T.timer = setInterval(refresh, POLL_MS);
        refresh();
      } else {
        T.tracks.clear();
        T.alerts.clear();
        draw();
      }
    },
    /** Draw tracks and alerts from elsewhere (the replay's picture). */
    show(tracks, alerts) {
      T.tracks = new Map(tracks.map((t) => [t.id, t]));
      T.alerts = new Map(alerts.map((a) => [a.id, a]));
      draw();
    },
    redraw: draw,
  };
}
