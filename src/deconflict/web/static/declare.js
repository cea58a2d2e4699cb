// Declare by drawing: a polygon (click vertices, then click the first one or "Finish") or a circle (click the
// centre, then a point on the rim) on the Leaflet map, or typed into the outline fields (keyboard). The conflicts
// the declaration would have come from POST /v1/declarations/preview before anything is filed.

import { CONFLICT, utcInput } from "/ui/static/common.js";

const FIELD_LABELS = [
  [/altitude_lower/, "decl-lower", "Altitude lower"], [/altitude_upper/, "decl-upper", "Altitude upper"],
  [/time_start/, "decl-start", "Start"], [/time_end/, "decl-end", "End"],
  [/radius/, "decl-radius", "Radius"], [/outline_circle|center/, "decl-centre", "Centre"],
  [/outline_polygon|vertices|volume$/, "decl-vertices", "Outline"], [/^title/, "decl-title", "Title"],
  [/^kind/, "decl-kind", "Kind"], [/^activation/, "decl-kind", "Kind"],
];
const PREVIEW_DELAY_MS = 400;

const round5 = (x) => Math.round(x * 1e5) / 1e5;

/** Parse "lat, lng" lines (or ";"-separated pairs) into points; null when a pair is not two numbers. */
function parsePoints(text) {
  const out = [];
  for (const part of text.split(/[\n;]+/).map((s) => s.trim()).filter(Boolean)) {
    const nums = part.split(/[\s,]+/).filter(Boolean).map(Number);
    if (nums.length !== 2 || nums.some((n) => !Number.isFinite(n))) return null;
    out.push({ lat: nums[0], lng: nums[1] });
  }
  return out;
}

export function initDeclare(ctx) {
  const { L, map, api, el, $, shapesOf, cellsOf, dayHhmm, onDeclared } = ctx;
  const form = $("#declare-form");
  const sketch = L.layerGroup().addTo(map);
  const previewLayer = L.layerGroup().addTo(map);
  const D = { mode: null, points: [], centre: null, timer: null, asked: 0 };

  const shape = () => form.querySelector('input[name="decl-shape"]:checked').value;
  const status = (text) => { $("#draw-status").textContent = text; };

  function syncShapeFields() {
    const circle = shape() === "circle";
    $("#polygon-fields").hidden = circle;
    $("#circle-fields").hidden = !circle;
    $("#draw-start").textContent = circle ? "Draw circle on map" : "Draw polygon on map";
  }

  function drawSketch() {
    sketch.clearLayers();
    const style = { color: "#111", weight: 3, dashArray: "8 4", fillColor: "#ffbf47", fillOpacity: 0.25,
      className: "sketch" };
    if (shape() === "polygon") {
      const pts = parsePoints($("#decl-vertices").value) || [];
      const latlngs = pts.map((p) => [p.lat, p.lng]);
      if (latlngs.length >= 3 && D.mode !== "polygon") L.polygon(latlngs, style).addTo(sketch);
      else if (latlngs.length >= 2) L.polyline(latlngs, style).addTo(sketch);
      latlngs.forEach((ll, i) => {
        const m = L.circleMarker(ll, { radius: i === 0 ? 7 : 5, color: "#111", weight: 2, fillColor: "#fff",
          fillOpacity: 1, className: "sketch-vertex", bubblingMouseEvents: false }).addTo(sketch);
        if (i === 0) m.on("click", () => { if (D.mode === "polygon") finish(); });
      });
    } else {
      const c = parsePoints($("#decl-centre").value);
      const r = Number($("#decl-radius").value);
      if (c && c.length === 1) {
        if (r > 0) L.circle([c[0].lat, c[0].lng], { ...style, radius: r }).addTo(sketch);
        L.circleMarker([c[0].lat, c[0].lng], { radius: 4, color: "#111", fillColor: "#111", fillOpacity: 1,
          className: "sketch-vertex" }).addTo(sketch);
      }
    }
    for (const node of map.getContainer().querySelectorAll(".sketch")) node.setAttribute("data-sketch", "yes");
  }

  function startDrawing() {
    D.mode = shape();
    D.points = [];
    map.getContainer().classList.add("drawing");
    map.doubleClickZoom.disable();
    if (D.mode === "polygon") {
      $("#decl-vertices").value = "";
      status("Drawing a polygon: click each vertex on the map; click the first vertex or press Finish to close; "
        + "Esc cancels.");
    } else {
      $("#decl-centre").value = "";
      status("Drawing a circle: click the centre on the map, then a point on its edge; Esc cancels.");
    }
    $("#draw-finish").hidden = D.mode !== "polygon";
    drawSketch();
    changed();
  }

  function stopDrawing(message) {
    D.mode = null;
    map.getContainer().classList.remove("drawing");
    map.doubleClickZoom.enable();
    $("#draw-finish").hidden = true;
    status(message);
    drawSketch();
  }

  function finish() {
    const pts = parsePoints($("#decl-vertices").value) || [];
    if (pts.length < 3) { status(`A polygon needs at least 3 vertices (${pts.length} so far).`); return; }
    stopDrawing(`Polygon closed with ${pts.length} vertices. Edit the outline below, or draw again.`);
    changed();
  }

  map.on("click", (e) => {
    if (!D.mode) return;
    const p = `${round5(e.latlng.lat)}, ${round5(e.latlng.lng)}`;
    if (D.mode === "polygon") {
      const box = $("#decl-vertices");
      box.value = box.value.trim() ? `${box.value.trim()}\n${p}` : p;
      const n = parsePoints(box.value).length;
      status(`${n} vert${n === 1 ? "ex" : "ices"}: click the next, ${n >= 3 ? "click the first or press Finish to "
        + "close" : "at least 3 needed"}.`);
      drawSketch();
      return;
    }
    const centre = parsePoints($("#decl-centre").value);
    if (!centre || centre.length !== 1) {
      $("#decl-centre").value = p;
      status("Centre set: click a point on the circle's edge.");
      drawSketch();
      return;
    }
    $("#decl-radius").value = String(Math.max(1, Math.round(map.distance([centre[0].lat, centre[0].lng], e.latlng))));
    stopDrawing(`Circle drawn, radius ${$("#decl-radius").value} m.`);
    changed();
  });

  // -- the body, the preview, the submission ----------------------------------------------------------------
  function body() {
    const kind = $("#decl-kind").value;
    const startMs = Date.parse(`${$("#decl-start").value}:00Z`);
    const endMs = Date.parse(`${$("#decl-end").value}:00Z`);
    const time = (ms) => (Number.isFinite(ms) ? { value: new Date(ms).toISOString(), format: "RFC3339" } : null);
    const alt = (id) => ({ value: $(id).value === "" ? null : Number($(id).value), reference: "W84", units: "M" });
    const volume = { altitude_lower: alt("#decl-lower"), altitude_upper: alt("#decl-upper") };
    if (shape() === "polygon") {
      volume.outline_polygon = { vertices: parsePoints($("#decl-vertices").value) || [] };
    } else {
      const c = parsePoints($("#decl-centre").value);
      volume.outline_circle = { center: c && c.length === 1 ? c[0] : null,
        radius: { value: $("#decl-radius").value === "" ? null : Number($("#decl-radius").value), units: "M" } };
    }
    const out = { kind, volumes: [{ volume, time_start: time(startMs), time_end: time(endMs) }] };
    const title = $("#decl-title").value.trim();
    if (title) out.title = title;
    return out;
  }

  function complete() {
    if (D.mode) return false;
    if (shape() === "polygon") return (parsePoints($("#decl-vertices").value) || []).length >= 3;
    return (parsePoints($("#decl-centre").value) || []).length === 1 && Number($("#decl-radius").value) > 0;
  }

  function clearErrors() {
    $("#declare-error").textContent = "";
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  function showError(e) {
    const field = e.field || "";
    const hit = FIELD_LABELS.find(([re]) => re.test(field.replace(/^volumes\[\d+\]\.(volume\.)?/, "")));
    if (hit) $(`#${hit[1]}`).setAttribute("aria-invalid", "true");
    $("#declare-error").textContent = `${hit ? hit[2] : "Declaration"}: ${e.message}${field ? ` (${field})` : ""}`;
  }

  function drawPreview(result) {
    previewLayer.clearLayers();
    const list = $("#preview");
    const style = { color: CONFLICT, weight: 3, dashArray: "2 4", fillColor: CONFLICT, fillOpacity: 0.2 };
    list.replaceChildren(...result.conflicts.map((c) => {
      const o = c.other;
      const layers = o.area ? o.area.flatMap((v) => shapesOf(v, style))
        : o.coarse ? o.coarse.flatMap((x) => cellsOf(x, style))
          : o.volumes ? o.volumes.flatMap((v) => shapesOf(v, style)) : [];
      layers.forEach((layer) => layer.addTo(previewLayer));
      return el("li", { dataset: { other: o.declaration_id, party: o.party } },
        el("span", { class: "tag conflict" }, c.policy === "block" ? "WOULD BE REFUSED" : "CONFLICT"),
        ` with ${o.party}'s ${o.kind} (${o.disclosure}), ${dayHhmm(c.window_start)} – ${dayHhmm(c.window_end)}, `
        + `${c.severity}; ${Math.round(c.lateral_distance_m)} m apart laterally, ${Math.round(c.vertical_gap_m)} m `
        + `vertically; policy ${c.policy.replace("_", " ")}`);
    }));
    if (!result.conflicts.length) list.append(el("li", { class: "ok" }, "No conflicts found with what you may see."));
    for (const party of result.late_notice || []) {
      list.append(el("li", { dataset: { lateFor: party } }, el("span", { class: "tag late" }, "LATE"),
        ` notice to ${party}: less than your agreement's minimum notice`));
    }
    $("#preview-head").textContent = result.blocked
      ? "If declared now — a 'block' agreement would refuse it:" : "Conflicts if declared now:";
    form.dataset.previewed = "yes";
  }

  async function preview() {
    if (!complete()) return;
    const asked = ++D.asked;
    clearErrors();
    $("#preview-head").textContent = "Checking for conflicts…";
    try {
      const result = await api("/v1/declarations/preview", { method: "POST", body: body() });
      if (asked === D.asked) drawPreview(result);
    } catch (e) {
      if (asked !== D.asked) return;
      previewLayer.clearLayers();
      $("#preview").replaceChildren();
      $("#preview-head").textContent = "";
      showError(e);
    }
  }

  function changed() {
    form.dataset.previewed = "no";
    clearTimeout(D.timer);
    D.timer = setTimeout(preview, PREVIEW_DELAY_MS);
  }

  function reset() {
    $("#decl-vertices").value = "";
    $("#decl-centre").value = "";
    $("#decl-radius").value = "";
    $("#decl-title").value = "";
    sketch.clearLayers();
    previewLayer.clearLayers();
    $("#preview").replaceChildren();
    $("#preview-head").textContent = "";
    clearErrors();
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    if (D.mode === "polygon") finish();
    if (!complete()) { showError({ field: shape() === "polygon" ? "outline_polygon" : "outline_circle",
      message: "draw the outline on the map (or type it) first" }); return; }
    $("#declare-status").textContent = "declaring…";
    try {
      const r = await api("/v1/declarations", { method: "POST", body: body() });
      const n = r.conflicts.length;
      $("#declare-status").textContent = `Declared ${r.declaration.title || r.declaration.kind}`
        + ` (${n ? `${n} conflict${n > 1 ? "s" : ""}` : "no conflicts"}`
        + `${r.late_notice && r.late_notice.length ? `; LATE notice to ${r.late_notice.join(", ")}` : ""}).`;
      reset();
      onDeclared(r);
    } catch (e) {
      $("#declare-status").textContent = "";
      showError(e);
    }
  });
  form.addEventListener("input", (ev) => {
    if (ev.target.name === "decl-shape") { syncShapeFields(); if (D.mode) stopDrawing(""); }
    if (["decl-vertices", "decl-centre", "decl-radius"].includes(ev.target.id) || ev.target.name === "decl-shape") {
      drawSketch();
    }
    changed();
  });
  $("#draw-start").addEventListener("click", startDrawing);
  $("#draw-finish").addEventListener("click", finish);
  $("#draw-clear").addEventListener("click", () => { if (D.mode) stopDrawing(""); reset(); });
  $("#preview-run").addEventListener("click", preview);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && D.mode) stopDrawing("Drawing cancelled.");
  });
  const start = Math.ceil((Date.now() + 30 * 60e3) / 300e3) * 300e3;
  $("#decl-start").value = utcInput(start);
  $("#decl-end").value = utcInput(start + 3600e3);
  syncShapeFields();
  /** Hide the sketch while replaying the past (and show it again after). */
  return {
    setVisible(on) {
      for (const layer of [sketch, previewLayer]) {
        if (on) layer.addTo(map); else layer.remove();
      }
    },
  };
}
