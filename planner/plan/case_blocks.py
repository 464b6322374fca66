"""The blocks of a case: source, segmentation, cuts, devices, distractors, protocol.

Each block is a frozen dataclass with its units and one reader, ``read_BLOCK(reader)``,
that pulls it out of its JSON object with a
:class:`~planner.plan.case_reader.FieldReader` (recording every problem, returning None
when the block is wrong). :mod:`planner.plan.case` gathers them in
:class:`~planner.plan.case.Case`; a new block adds a dataclass, a reader and a line there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from planner.plan.case_reader import MM_DIGITS, FieldReader, unit_vector
from planner.plan.case_rules import protocol_problems
from planner.plan.devices import DEVICE_KINDS, Device

__all__ = [
    "LABEL_NAMES",
    "Distractor",
    "Osteotomy",
    "Protocol",
    "Segmentation",
    "Source",
    "Vec3",
    "default_in_plane_axis",
    "read_device",
    "read_distractor",
    "read_footplate_holes",
    "read_landmarks",
    "read_osteotomy",
    "read_protocol",
    "read_segmentation",
    "read_source",
]

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Source:
    """Where the models come from: the scan (as the user gave it; relative paths are
    relative to the case folder) and the series chosen in it."""

    path: str = ""
    series_uid: str = ""


@dataclass(frozen=True)
class Segmentation:
    """Bone segmentation decisions. ``threshold_hu`` None means found automatically.

    ``mandible_at_mm`` is a point on the chin (LPS mm) that seeds the mandible's separation
    (``planner segment --mandible-at``); ``labels_path`` a label volume made elsewhere
    (relative to the case folder when inside it) with ``label_values`` naming its values
    (``--labels``, ``--label-values``); ``allow_gaps`` loads a series with missing slices,
    interpolating across each gap (``--allow-gaps``).
    """

    threshold_hu: float | None = None
    separate_mandible: bool = True
    mandible_at_mm: Vec3 | None = None
    labels_path: str = ""
    label_values: Mapping[str, int] = field(default_factory=dict)
    allow_gaps: bool = False


@dataclass(frozen=True)
class Osteotomy:
    """A bounded planar saw cut.

    Parameters
    ----------
    name : str
        Unique name, e.g. ``"ramus_left"``.
    center_mm : (3,) float
        Centre of the cut rectangle, LPS mm.
    normal : (3,) float
        Unit normal of the cut plane (either side: the cut is the same).
    size_mm : (2,) float
        Extent of the cut within the plane: along ``in_plane_axis`` and across it, mm.
    in_plane_axis : (3,) float
        Unit direction in the plane along which ``size_mm[0]`` is measured (projected
        into the plane on load). Default: the in-plane direction closest to patient
        superior (+z), or anterior (-y) for an axial cut.
    kerf_mm : float
        Width of bone the saw removes (default 1.0).
    """

    name: str
    center_mm: Vec3
    normal: Vec3
    size_mm: tuple[float, float]
    in_plane_axis: Vec3
    kerf_mm: float = 1.0


@dataclass(frozen=True)
class Distractor:
    """One placed device.

    Parameters
    ----------
    name : str
        Unique name, e.g. ``"left"``.
    device : str
        Name of a :class:`Device` in the built-in catalog or in the case's ``devices``.
    fixed_point_mm, moving_point_mm : (3,) float
        Footplate anchor points on the fixed and the moving segment, LPS mm. The moving
        point also names the segment that moves.
    vector : (3,) float
        Unit direction in which the moving segment goes.
    target_mm : float
        Planned distraction length, at most the device's stroke.
    curve_toward : (3,) float or None
        Curvilinear devices only: the side of the vector on which the track's centre lies.
    """

    name: str
    device: str
    fixed_point_mm: Vec3
    moving_point_mm: Vec3
    vector: Vec3
    target_mm: float
    curve_toward: Vec3 | None = None


@dataclass(frozen=True)
class Protocol:
    """Treatment timing shared by the case's distractors."""

    latency_days: float = 1.0
    rate_mm_per_day: float = 1.0
    activations_per_day: int = 2
    consolidation_days: float = 56.0
    start_date: str = ""  # ISO date of surgery; "" = not yet scheduled
    first_activation_time: str = "08:00"


# ---------------------------------------------------------------------------------------
# Readers: one per block


def read_source(r: FieldReader) -> Source | None:
    source = Source(path=r.str("path", ""), series_uid=r.str("series_uid", ""))
    r.done()
    return source if r.ok else None


def read_segmentation(r: FieldReader) -> Segmentation | None:
    seg = Segmentation(
        threshold_hu=r.float("threshold_hu", None, lo=-1000, hi=4000, unit="HU"),
        separate_mandible=r.bool("separate_mandible", True),
        mandible_at_mm=r.point("mandible_at_mm", None),
        labels_path=r.str("labels_path", ""),
        label_values=_label_values(r),
        allow_gaps=r.bool("allow_gaps", False),
    )
    if seg.label_values and not seg.labels_path:
        r.fail("label_values", "is given without labels_path; name the label volume too")
    r.done()
    return seg if r.ok else None


LABEL_NAMES = ("skull", "mandible")


def _label_values(r: FieldReader) -> dict[str, int]:
    """``label_values``: the bone names to their values in the label volume."""
    raw = r.raw("label_values", {})
    ok = isinstance(raw, dict) and all(
        k in LABEL_NAMES and isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535
        for k, v in raw.items()
    )
    if not ok or len(set(raw.values())) != len(raw):
        r.fail(
            "label_values",
            "must map skull and/or mandible to distinct whole numbers from 1 to 65535, "
            'such as {"skull": 1, "mandible": 2}',
        )
        return {}
    return dict(raw)


def read_osteotomy(r: FieldReader) -> Osteotomy | None:
    values = dict(
        name=r.str("name"),
        center_mm=r.point("center_mm"),
        normal=r.unit("normal"),
        size_mm=r.point("size_mm", n=2),
        kerf_mm=r.float("kerf_mm", 1.0, lo=0.1, hi=5.0, unit="mm", digits=MM_DIGITS),
    )
    axis = r.unit("in_plane_axis", None)
    if values["size_mm"] is not None and min(values["size_mm"]) <= 0:
        r.fail("size_mm", "must be two positive lengths in mm")
    r.done()
    if not r.ok:
        return None
    normal = values["normal"]
    axis = axis or default_in_plane_axis(normal)
    dot = sum(a * n for a, n in zip(axis, normal, strict=True))
    if abs(dot) > 1e-5:  # project into the plane (kept as written when it lies in it)
        projected = [a - n * dot for a, n in zip(axis, normal, strict=True)]
        if math.hypot(*projected) < 1e-3:
            r.fail("in_plane_axis", "is parallel to the normal; it must lie in the cut plane")
            return None
        axis = unit_vector(projected)
    return Osteotomy(in_plane_axis=axis, **values)


def default_in_plane_axis(normal: Sequence[float]) -> Vec3:
    """The in-plane direction closest to patient superior (+z), else anterior (-y)."""
    for ref in ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)):
        dot = sum(r * n for r, n in zip(ref, normal, strict=True))
        axis = [r - n * dot for r, n in zip(ref, normal, strict=True)]
        if sum(a * a for a in axis) > 0.01:
            return unit_vector(axis)
    raise AssertionError("unreachable: two orthogonal references cannot both be parallel")


def read_device(r: FieldReader) -> Device | None:
    dev = Device(
        name=r.str("name"),
        kind=r.str("kind", choices=DEVICE_KINDS),
        stroke_mm=r.float("stroke_mm", lo=0, hi=200, open_lo=True, unit="mm", digits=MM_DIGITS),
        mm_per_turn=r.float("mm_per_turn", lo=0, hi=5, open_lo=True, unit="mm"),
        track_radius_mm=r.float(
            "track_radius_mm", None, lo=5, hi=1000, unit="mm", digits=MM_DIGITS
        ),
        description=r.str("description", ""),
        screw_diameter_mm=r.float(
            "screw_diameter_mm", 1.5, lo=0.8, hi=3.0, unit="mm", digits=MM_DIGITS
        ),
        footplate_holes_mm=read_footplate_holes(r),
    )
    if dev.kind == "curvilinear" and dev.track_radius_mm is None:
        r.fail("track_radius_mm", "is required for a curvilinear device")
    if dev.kind == "linear" and dev.track_radius_mm is not None:
        r.fail("track_radius_mm", "applies only to curvilinear devices")
    r.done()
    return dev if r.ok else None


def read_distractor(r: FieldReader) -> Distractor | None:
    d = Distractor(
        name=r.str("name"),
        device=r.str("device"),
        fixed_point_mm=r.point("fixed_point_mm"),
        moving_point_mm=r.point("moving_point_mm"),
        vector=r.unit("vector"),
        target_mm=r.float("target_mm", lo=0, hi=200, open_lo=True, unit="mm", digits=MM_DIGITS),
        curve_toward=r.unit("curve_toward", None),
    )
    r.done()
    return d if r.ok else None


def read_protocol(r: FieldReader) -> Protocol | None:
    if not r.ok:  # the block is missing
        return None
    p = Protocol(
        latency_days=r.float("latency_days"),
        rate_mm_per_day=r.float("rate_mm_per_day"),
        activations_per_day=r.int("activations_per_day"),
        consolidation_days=r.float("consolidation_days"),
        start_date=r.str("start_date", ""),
        first_activation_time=r.str("first_activation_time", "08:00"),
    )
    r.done()
    if not r.ok:
        return None
    problems = protocol_problems(p, r.where)
    r.problems.extend(problems)
    return None if problems else p


def read_landmarks(r: FieldReader) -> dict[str, Vec3] | None:
    landmarks = {str(k): r.point(k) for k in list(r.data)}
    for name in landmarks:
        if not name.strip():
            r.fail(name, "is an empty landmark name; give it a name")
    r.done()
    return landmarks if r.ok else None


def read_footplate_holes(r: FieldReader) -> tuple[tuple[float, float], ...] | None:
    """``footplate_holes_mm`` of a device: a list of [x, y] in the footplate's frame, mm."""
    value = r.raw("footplate_holes_mm", [])
    ok = isinstance(value, list) and all(
        isinstance(v, list) and len(v) == 2 and all(_is_number(x) for x in v) for v in value
    )
    if not ok or len(value) > 12:
        return r.fail("footplate_holes_mm", "must be a list of up to 12 [x, y] positions in mm")
    return tuple(
        (round(float(x), MM_DIGITS) + 0.0, round(float(y), MM_DIGITS) + 0.0) for x, y in value
    )


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1000
