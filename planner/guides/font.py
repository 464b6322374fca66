"""A small stroke font for engraved labels: polylines that print as even grooves.

Glyphs are drawn on a 4 × 6 grid (x to the right, y up, baseline at 0), one polyline per
stroke; lower case is drawn as upper case. :func:`text_outline` buffers the strokes into
shapely polygons of a given height, ready to extrude; characters outside the font become
spaces (labels carry names, sides and numbers only).
"""

from __future__ import annotations

import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

__all__ = ["GLYPHS", "text_outline", "text_width"]

# Each glyph: strokes separated by ";", points "x,y" separated by spaces.
GLYPHS: dict[str, str] = {
    "A": "0,0 0,4 2,6 4,4 4,0; 0,3 4,3",
    "B": "0,0 0,6 3,6 4,5 4,4 3,3 0,3; 3,3 4,2 4,1 3,0 0,0",
    "C": "4,1 3,0 1,0 0,1 0,5 1,6 3,6 4,5",
    "D": "0,0 0,6 2,6 4,4 4,2 2,0 0,0",
    "E": "4,0 0,0 0,6 4,6; 0,3 3,3",
    "F": "0,0 0,6 4,6; 0,3 3,3",
    "G": "4,5 3,6 1,6 0,5 0,1 1,0 3,0 4,1 4,3 2,3",
    "H": "0,0 0,6; 4,0 4,6; 0,3 4,3",
    "I": "1,0 3,0; 2,0 2,6; 1,6 3,6",
    "J": "0,1 1,0 2,0 3,1 3,6",
    "K": "0,0 0,6; 4,6 0,2; 1,3 4,0",
    "L": "0,6 0,0 4,0",
    "M": "0,0 0,6 2,3 4,6 4,0",
    "N": "0,0 0,6 4,0 4,6",
    "O": "1,0 0,1 0,5 1,6 3,6 4,5 4,1 3,0 1,0",
    "P": "0,0 0,6 3,6 4,5 4,4 3,3 0,3",
    "Q": "1,0 0,1 0,5 1,6 3,6 4,5 4,1 3,0 1,0; 2,2 4,0",
    "R": "0,0 0,6 3,6 4,5 4,4 3,3 0,3; 2,3 4,0",
    "S": "4,5 3,6 1,6 0,5 0,4 1,3 3,3 4,2 4,1 3,0 1,0 0,1",
    "T": "0,6 4,6; 2,6 2,0",
    "U": "0,6 0,1 1,0 3,0 4,1 4,6",
    "V": "0,6 2,0 4,6",
    "W": "0,6 1,0 2,3 3,0 4,6",
    "X": "0,0 4,6; 0,6 4,0",
    "Y": "0,6 2,3 4,6; 2,3 2,0",
    "Z": "0,6 4,6 0,0 4,0",
    "0": "1,0 0,1 0,5 1,6 3,6 4,5 4,1 3,0 1,0; 0,1 4,5",
    "1": "1,5 2,6 2,0; 1,0 3,0",
    "2": "0,5 1,6 3,6 4,5 4,4 0,0 4,0",
    "3": "0,5 1,6 3,6 4,5 4,4 3,3 4,2 4,1 3,0 1,0 0,1; 1,3 3,3",
    "4": "3,0 3,6 0,2 4,2",
    "5": "4,6 0,6 0,3 3,3 4,2 4,1 3,0 0,0",
    "6": "4,5 3,6 1,6 0,5 0,1 1,0 3,0 4,1 4,2 3,3 0,3",
    "7": "0,6 4,6 1,0",
    "8": "1,3 0,4 0,5 1,6 3,6 4,5 4,4 3,3 1,3 0,2 0,1 1,0 3,0 4,1 4,2 3,3",
    "9": "4,3 1,3 0,4 0,5 1,6 3,6 4,5 4,1 3,0 1,0",
    "-": "1,3 3,3",
    "_": "0,0 4,0",
    "+": "1,3 3,3; 2,2 2,4",
    "/": "0,0 4,6",
    ":": "2,1 2,1.01; 2,4 2,4.01",
    ".": "2,0 2,0.01",
    ",": "2,1 1.5,-0.5",
    "(": "3,0 2,1 2,5 3,6",
    ")": "1,0 2,1 2,5 1,6",
    "#": "1,0 1,6; 3,0 3,6; 0,2 4,2; 0,4 4,4",
    "=": "0,2 4,2; 0,4 4,4",
    "'": "2,6 2,4.5",
    "*": "2,1 2,5; 0.5,2 3.5,4; 0.5,4 3.5,2",
}

_CELL_HEIGHT = 6.0
_ADVANCE = 5.5  # glyph width 4 plus spacing, in grid units


def text_width(text: str, height_mm: float) -> float:
    """Width in mm of ``text`` drawn ``height_mm`` tall (strokes not included)."""
    scale = height_mm / _CELL_HEIGHT
    return max(len(text) * _ADVANCE - (_ADVANCE - 4.0), 0.0) * scale


def _strokes(char: str):
    spec = GLYPHS.get(char.upper())
    if not spec:
        return []
    out = []
    for stroke in spec.split(";"):
        points = [tuple(float(v) for v in p.split(",")) for p in stroke.split()]
        out.append(points)
    return out


def text_outline(
    text: str, height_mm: float, *, stroke_mm: float, origin_mm=(0.0, 0.0)
) -> Polygon | MultiPolygon:
    """The outline of ``text`` as grooves ``stroke_mm`` wide, letters ``height_mm`` tall.

    Parameters
    ----------
    text : str
        One line; unknown characters become spaces.
    height_mm : float
        Cap height (the strokes add ``stroke_mm / 2`` all round).
    stroke_mm : float
        Groove width.
    origin_mm : (2,) float
        Left end of the baseline.

    Returns
    -------
    shapely Polygon or MultiPolygon
        Empty when the text has no drawable character.
    """
    scale = height_mm / _CELL_HEIGHT
    x0, y0 = (float(v) for v in origin_mm)
    parts = []
    for k, char in enumerate(text):
        for points in _strokes(char):
            xy = [(x0 + (k * _ADVANCE + x) * scale, y0 + y * scale) for x, y in points]
            geom = LineString(xy) if len(xy) > 1 else Point(xy[0])
            parts.append(geom.buffer(stroke_mm / 2.0, quad_segs=4))
    if not parts:
        return Polygon()
    return shapely.union_all(parts)
