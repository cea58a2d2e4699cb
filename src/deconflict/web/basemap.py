"""Build the UI's offline basemap: world borders and European FIRs as one small GeoJSON.

    python -m deconflict.web.basemap [--data ../shared/data] [--out src/deconflict/web/static/basemap.json]

Sources (see shared/data/README.md): Natural Earth 1:110m country borders (public domain) and the European FIRs
of the `traffic` library's sample data (MIT). Shapes are simplified (about 2 km for borders, 5 km for FIRs) and
coordinates rounded to 0.01 degree, which keeps the file near 200 KB; the result is shipped in the package so the
UI needs neither the data folder nor the internet at run time. The output is deterministic: rebuilding from the
same sources gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape

__all__ = ["ATTRIBUTION", "DEFAULT_OUT", "build", "main"]

DEFAULT_OUT = Path(__file__).parent / "static" / "basemap.json"
ATTRIBUTION = ("Borders: Natural Earth 1:110m (public domain). FIRs: European flight information regions, "
               "sample data of the traffic library (MIT licence).")
COUNTRIES = "geo/countries_110m.geojson"
FIRS = "airspace/eurofirs.json"


def _rounded(geometry: dict[str, Any], digits: int) -> dict[str, Any] | None:
    def ring(coords: Any) -> list[list[float]]:
        out: list[list[float]] = []
        for x, y, *_ in coords:
            p = [round(float(x), digits), round(float(y), digits)]
            if not out or out[-1] != p:
                out.append(p)
        return out

    if geometry["type"] == "Polygon":
        rings = [r for r in (ring(c) for c in geometry["coordinates"]) if len(r) >= 4]
        return {"type": "Polygon", "coordinates": rings} if rings else None
    if geometry["type"] == "MultiPolygon":
        polys = [[r for r in (ring(c) for c in poly) if len(r) >= 4] for poly in geometry["coordinates"]]
        polys = [p for p in polys if p]
        return {"type": "MultiPolygon", "coordinates": polys} if polys else None
    return None


def _simplified(geometry: dict[str, Any], tolerance_deg: float, digits: int) -> dict[str, Any] | None:
    geom = shapely.make_valid(shape(geometry)).simplify(tolerance_deg, preserve_topology=True)
    if geom.is_empty:
        return None
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            return None
        geom = shapely.union_all(polys)
    return _rounded(dict(mapping(geom)), digits)


def _fir_limit(props: dict[str, Any], which: str) -> str:
    value, unit = props.get(f"{which}LIMIT", ""), props.get(f"{which}UNIT", "")
    if unit == "FL":
        return f"FL{value}"
    return f"{value} {unit.lower()}".strip()


def build(data: Path) -> dict[str, Any]:
    """The basemap FeatureCollection from the data folder (`layer` is `country` or `fir`)."""
    features: list[dict[str, Any]] = []
    countries = json.loads((data / COUNTRIES).read_text())
    for f in sorted(countries["features"], key=lambda f: str(f["properties"].get("name", ""))):
        geometry = _simplified(f["geometry"], 0.02, 2)
        if geometry is not None:
            features.append({"type": "Feature", "geometry": geometry,
                             "properties": {"layer": "country", "name": f["properties"].get("name", "")}})
    firs = json.loads((data / FIRS).read_text())
    for f in sorted(firs["features"], key=lambda f: str(f["properties"].get("IDENT", ""))):
        props = f["properties"]
        geometry = _simplified(f["geometry"], 0.05, 2)
        if geometry is not None:
            features.append({"type": "Feature", "geometry": geometry, "properties": {
                "layer": "fir", "name": props.get("NAME", ""), "ident": props.get("IDENT", ""),
                "lower": _fir_limit(props, "LOWER"), "upper": _fir_limit(props, "UPPER")}})
    return {"type": "FeatureCollection", "attribution": ATTRIBUTION, "features": features}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not (args.data / COUNTRIES).is_file():
        raise SystemExit(f"no {COUNTRIES} under {args.data}: the shipped {DEFAULT_OUT.name} stays as it is")
    text = json.dumps(build(args.data), separators=(",", ":"), sort_keys=True) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.out.is_file() or args.out.read_text() != text:
        args.out.write_text(text)
    print(f"{args.out}: {len(text) // 1024} KB")


if __name__ == "__main__":
    main()
