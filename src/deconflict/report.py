"""An incident briefing from a reconstructed picture (GET /v1/ledger/picture, core.ledger.reconstruct): a map
and a timeline drawn with matplotlib, written as DIR/report.html (one self-contained offline file: both drawn as
inline SVG, no script, no network) and DIR/map.png.

The map: the package's basemap (world borders and FIRs, src/deconflict/web/static/basemap.json), the volumes as
disclosed to the party (own and full in solid outline, a conflict area dashed, coarse cells hatched), the last
known track positions and the active alerts between them. The timeline: each declaration's window, each
notification's delivery, acknowledgement deadline, acknowledgement and the start it announced (late ones marked
LATE), and the time T of the picture.

SVG elements carry ids a reader (or a test) can find: `decl-<id>` (a volume on the map), `track-<key>`,
`alert-<id>`, `timeline-decl-<id>`, `timeline-notice-<id>`, `timeline-at`.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import dates as mdates
from matplotlib.figure import Figure  # figures without pyplot: no display, no global state
from matplotlib.patches import Polygon as PolygonPatch

from .core.ledger.reconstruct import parse_time

__all__ = ["render_report", "write_report"]

matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text in the SVG (searchable, selectable)
matplotlib.rcParams["svg.hashsalt"] = "deconflict"  # the same picture gives the same SVG

_COLOURS = {"own": "#1f5fbf", "full": "#c0392b", "conflict_area": "#d35400", "coarse": "#7d3c98"}


def _basemap() -> dict[str, Any]:
    text = resources.files("deconflict.web").joinpath("static/basemap.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def _rings(geometry: Mapping[str, Any] | None) -> list[list[list[float]]]:
    """The outer rings of a GeoJSON Polygon or MultiPolygon ([lng, lat] points)."""
    if not geometry:
        return []
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry.get("type") == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def _safe_id(text: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", str(text))


def _label(decl: Mapping[str, Any]) -> str:
    title = decl.get("title")
    return str(title) if title else f"{decl.get('kind') or 'declaration'} {str(decl.get('id'))[:8]}"


def _extent(picture: Mapping[str, Any]) -> tuple[float, float, float, float]:
    lngs: list[float] = []
    lats: list[float] = []
    for decl in picture["declarations"]:
        for ring in _rings(decl.get("geometry")):
            lngs.extend(p[0] for p in ring)
            lats.extend(p[1] for p in ring)
    for t in picture["tracks"]:
        lngs.append(t["lng"])
        lats.append(t["lat"])
    if not lngs:
        return -180.0, 180.0, -85.0, 85.0
    pad = max(max(lngs) - min(lngs), max(lats) - min(lats), 0.2) * 0.25
    return min(lngs) - pad, max(lngs) + pad, min(lats) - pad, max(lats) + pad


def _map_figure(picture: Mapping[str, Any]) -> Figure:
    fig = Figure(figsize=(9.0, 7.0), dpi=100)
    ax = fig.add_subplot()
    west, east, south, north = _extent(picture)
    for feature in _basemap()["features"]:
        props = feature.get("properties") or {}
        fir = props.get("layer") == "fir"
        for ring in _rings(feature.get("geometry")):
            if (max(p[0] for p in ring) < west or min(p[0] for p in ring) > east
                    or max(p[1] for p in ring) < south or min(p[1] for p in ring) > north):
                continue  # out of view: not written into the SVG
            ax.add_patch(PolygonPatch(ring, closed=True, facecolor="none" if fir else "#eeeeea",
                                      edgecolor="#8aa" if fir else "#999", linewidth=0.6,
                                      linestyle="--" if fir else "-", zorder=1))
    party = picture["party_id"]
    for decl in picture["declarations"]:
        own = decl.get("owner_id") == party
        precision = decl.get("precision")
        colour = _COLOURS["own" if own else str(precision)] if (own or precision in _COLOURS) else "#555"
        for n, ring in enumerate(_rings(decl.get("geometry"))):
            patch = PolygonPatch(ring, closed=True, facecolor=colour, alpha=0.35, edgecolor=colour, linewidth=1.4,
                                 linestyle="--" if precision == "conflict_area" else "-",
                                 hatch="//" if precision == "coarse" else None, zorder=3)
            patch.set_gid(f"decl-{_safe_id(decl['id'])}" + (f"-{n}" if n else ""))
            ax.add_patch(patch)
        rings = _rings(decl.get("geometry"))
        if rings:
            lng = sum(p[0] for p in rings[0][:-1]) / max(len(rings[0]) - 1, 1)
            lat = sum(p[1] for p in rings[0][:-1]) / max(len(rings[0]) - 1, 1)
            ax.annotate(f"{_label(decl)} ({'own' if own else precision})", (lng, lat), fontsize=8, ha="center",
                        color=colour, zorder=6)
    where = {t["key"]: (t["lng"], t["lat"]) for t in picture["tracks"]}
    for alert in picture["alerts"]:
        points = [(t["lng"], t["lat"]) for t in alert["tracks"]]
        if len(points) >= 2:
            (line,) = ax.plot([p[0] for p in points], [p[1] for p in points], color="#e00", linewidth=2.0,
                              linestyle=":", zorder=4)
            line.set_gid(f"alert-{_safe_id(alert['id'])}")
    for t in picture["tracks"]:
        (dot,) = ax.plot([t["lng"]], [t["lat"]], marker="^", color="#111", markersize=7, zorder=5)
        dot.set_gid(f"track-{_safe_id(t['key'])}")
        alt = f" {t['alt_m']:.0f} m" if t.get("alt_m") is not None else ""
        ax.annotate(f"{t['key']}{alt}", where[t["key"]], xytext=(4, 4), textcoords="offset points", fontsize=7)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(f"What {picture.get('party_name') or party} knew at {picture['at']}", fontsize=10)
    ax.grid(True, linewidth=0.3, color="#ccc")
    return fig


def _timeline_figure(picture: Mapping[str, Any]) -> Figure:
    decls: Sequence[Mapping[str, Any]] = picture["declarations"]
    notes: Sequence[Mapping[str, Any]] = picture["notifications"]
    rows = len(decls) + len(notes)
    fig = Figure(figsize=(10.0, 1.2 + 0.45 * max(rows, 1)), dpi=100)
    ax = fig.add_subplot()
    at = parse_time(picture["at"]) or datetime.now(UTC)
    times = [at]
    labels: list[str] = []
    y = 0
    for decl in decls:
        start, end = parse_time(decl["window"]["start"]), parse_time(decl["window"]["end"])
        if start is not None and end is not None:
            bars = ax.broken_barh([(mdates.date2num(start), mdates.date2num(end) - mdates.date2num(start))],
                                  (y - 0.3, 0.6), facecolors="#1f5fbf" if decl.get("owner_id") ==
                                  picture["party_id"] else _COLOURS.get(str(decl.get("precision")), "#555"))
            bars.set_gid(f"timeline-decl-{_safe_id(decl['id'])}")
            times += [start, end]
        labels.append(f"{_label(decl)} v{decl.get('version')}")
        y += 1
    for note in notes:
        group = []
        marks = [("delivered_at", "o", "#111", "delivered"), ("ack_deadline_at", "|", "#e67e22", "ack deadline"),
                 ("starts_at", ">", "#1f5fbf", "announced start")]
        for field, marker, colour, _ in marks:
            when = parse_time(note.get(field))
            if when is not None:
                (dot,) = ax.plot([mdates.date2num(when)], [y], marker=marker, color=colour, markersize=9)
                group.append(dot)
                times.append(when)
        acked = parse_time(note["ack"].get("at"))
        if acked is not None:
            (dot,) = ax.plot([mdates.date2num(acked)], [y], marker="s", color="#27ae60", markersize=8)
            group.append(dot)
            times.append(acked)
        for dot in group:
            dot.set_gid(f"timeline-notice-{_safe_id(note['id'])}")
        late = " LATE" if note.get("late") else ""
        lead = note.get("lead_time_s")
        lead_text = f", lead {lead:.0f} s" if isinstance(lead, int | float) else ""
        reply = f" ({note['ack']['reply']})" if note["ack"].get("reply") else ""
        labels.append(f"{note.get('reason')} {str(note.get('declaration_id') or note['id'])[:8]}{late}{lead_text}: "
                      f"{note['ack']['state']}{reply}")
        y += 1
    line = ax.axvline(mdates.date2num(at), color="#c00", linewidth=1.5)
    line.set_gid("timeline-at")
    ax.annotate("T", (mdates.date2num(at), rows - 0.5 if rows else 0.5), color="#c00", fontsize=9)
    ax.set_yticks(range(len(labels)), labels=labels, fontsize=8)
    for tick in ax.get_yticklabels():
        if tick.get_text().find(" LATE") >= 0:
            tick.set_color("#c00")
    lo, hi = min(times), max(times)
    pad = max((hi - lo) * 0.05, timedelta(minutes=1))
    ax.set_xlim(mdates.date2num(lo - pad), mdates.date2num(hi + pad))
    ax.set_ylim(-0.7, max(rows, 1) - 0.3)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    ax.set_xlabel("UTC  (● delivered, | ack deadline, ■ acknowledged, ▶ announced start)", fontsize=8)
    ax.grid(True, axis="x", linewidth=0.3, color="#ccc")
    fig.tight_layout()
    return fig


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline: no XML declaration or doctype


def _table(picture: Mapping[str, Any]) -> str:
    rows = []
    for n in picture["notifications"]:
        ack = n["ack"]
        rows.append("<tr" + (' class="late"' if n.get("late") else "") + ">" + "".join(
            f"<td>{html.escape(str(v))}</td>" for v in (
                n.get("reason"), n.get("declaration_id") or "", n.get("delivered_at"),
                "LATE" if n.get("late") else "in time", n.get("lead_time_s"), n.get("precision"), ack["state"],
                ack.get("reply") or "", ack.get("level"))) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("reason", "declaration", "delivered", "notice", "lead time (s)",
                                               "precision", "ack at T", "reply", "escalation"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_report(picture: Mapping[str, Any]) -> tuple[str, bytes]:
    """(report.html text, map.png bytes) for a picture."""
    figure = _map_figure(picture)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    title = f"Deconflict briefing: {picture.get('party_name') or picture['party_id']} at {picture['at']}"
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:2px 6px;font-size:13px}} tr.late td{{color:#c00}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Reconstructed from the tamper-evident ledger (tree size {int(picture.get('tree_size', 0))}): what the party
had been shown by then, at the precision its agreements disclose. {len(picture['declarations'])} declarations,
{len(picture['notifications'])} notifications, {len(picture['alerts'])} active alerts,
{len(picture['tracks'])} aircraft positions (the last each alert carried).</p>
<h2>Map</h2><figure id="map">{_svg(figure)}</figure>
<h2>Timeline</h2><figure id="timeline">{_svg(_timeline_figure(picture))}</figure>
<h2>Notifications</h2>{_table(picture)}
</body></html>
"""
    return doc, png.getvalue()


def write_report(picture: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write DIR/report.html and DIR/map.png; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    doc, png = render_report(picture)
    page, image = directory / "report.html", directory / "map.png"
    page.write_text(doc, encoding="utf-8")
    image.write_bytes(png)
    return page, image
