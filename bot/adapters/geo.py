"""Which country a shared location is in, looked up offline (no request leaves the server).

Time-zone boundaries (timezonefinder, built from OpenStreetMap borders) give the zone: precise
at the Thai-Myanmar border, where a nearest-city lookup would put Myawaddy's compounds in Mae
Sot. tzdata's tables give the zone's country. Where one zone spans several countries (Asia/Bangkok
also covers northern Vietnam), coarse country shapes (countryinfo) choose among those few.
"""

from __future__ import annotations

import logging
import math
import threading
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)

Ring = list[tuple[float, float]]  # (longitude, latitude) points


class CountryLookup:
    """Loaded on first use (about 0.3 s), then shared; safe between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._finder: Any = None
        self._zones: dict[str, list[str]] = {}
        self._shapes: dict[str, list[Ring]] = {}

    def _load(self) -> None:
        from timezonefinder import TimezoneFinder

        folder = resources.files("tzdata").joinpath("zoneinfo")
        for name in ("zone.tab", "zone1970.tab"):  # the 1970 table wins: it lists every country
            for line in folder.joinpath(name).read_text("utf-8").splitlines():
                if line and not line.startswith("#"):
                    countries, _coordinates, zone, *_ = line.split("\t")
                    self._zones[zone] = countries.split(",")
        self._finder = TimezoneFinder(in_memory=True)

    def country_at(self, latitude: float, longitude: float) -> str | None:
        """ISO 3166-1 alpha-2 code, or None at sea, off the map, or for a bad position."""
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return None
        with self._lock:
            if self._finder is None:
                self._load()
        zone = self._finder.timezone_at(lat=latitude, lng=longitude)
        candidates = self._zones.get(zone, []) if isinstance(zone, str) else []
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        return self._closest(candidates, longitude, latitude)

    def _closest(self, countries: list[str], x: float, y: float) -> str:
        best, best_distance = countries[0], math.inf
        for country in countries:
            rings = self._rings(country)
            if any(_inside(ring, x, y) for ring in rings):
                return country
            for ring in rings:
                distance = min(math.hypot(px - x, py - y) for px, py in ring)
                if distance < best_distance:
                    best, best_distance = country, distance
        return best

    def _rings(self, country: str) -> list[Ring]:
        if country not in self._shapes:
            from countryinfo import CountryInfo

            try:
                geometry = CountryInfo(country).geo_json()["features"][0]["geometry"]
            except (KeyError, IndexError, TypeError, ValueError):
                self._shapes[country] = []
                return []
            polygons = geometry["coordinates"]
            if geometry["type"] == "Polygon":
                polygons = [polygons]
            self._shapes[country] = [[(p[0], p[1]) for p in poly[0]] for poly in polygons]
        return self._shapes[country]


def _inside(ring: Ring, x: float, y: float) -> bool:
    """Ray casting: is (x, y) inside the polygon ring?"""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside
