"""The case file: ``CASE_DIR/case.json`` holds the surgeon's decisions and nothing else.

Everything derived (models, segments, schedules, guides, renders) is rebuilt from it by
``planner build``. The file is versioned (``schema_version``) and validated on load: an
unknown field, a missing field or a value out of range raises :class:`PlannerError` with
a message that names the field (``osteotomies[1].normal``) and says what is allowed.

All points are DICOM patient LPS in mm; all directions are LPS vectors (any length, they
are normalised on load).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import PlannerError
from planner.fileio import atomic_path

__all__ = [
    "SCHEMA_VERSION",
    "Case",
    "Device",
    "Distractor",
    "Osteotomy",
    "Protocol",
    "Segmentation",
    "Source",
    "case_from_dict",
    "case_to_dict",
    "edit_item",
    "load_case",
    "save_case",
]

SCHEMA_VERSION = 1
CASE_FILE = "case.json"

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Source:
    """Where the models come from: the scan and the series chosen in it."""

    path: str = ""
    series_uid: str = ""


@dataclass(frozen=True)
class Segmentation:
    """Bone segmentation decisions. ``threshold_hu`` None means found automatically."""

    threshold_hu: float | None = None
    separate_mandible: bool = True


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
        Unit normal of the cut plane.
    size_mm : (2,) float
        Extent of the cut within the plane: along ``in_plane_axis`` and across it, mm.
    in_plane_axis : (3,) float
        Unit direction in the plane along which ``size_mm[0]`` is measured (projected
        into the plane on load).
    kerf_mm : float
        Width of bone the saw removes.
    """

    name: str
    center_mm: Vec3
    normal: Vec3
    size_mm: tuple[float, float]
    in_plane_axis: Vec3
    kerf_mm: float = 1.0


@dataclass(frozen=True)
class Device:
    """A distractor model: a catalog entry.

    ``kind`` is ``"linear"`` (the moving footplate translates along the rod) or
    ``"curvilinear"`` (it follows a circular track of ``track_radius_mm``).
    """

    name: str
    kind: str
    stroke_mm: float
    mm_per_turn: float
    track_radius_mm: float | None = None
    description: str = ""


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
        Unit direction of distraction at the moving footplate.
    target_mm : float
        Planned distraction length.
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


@dataclass(frozen=True)
class Case:
    """The surgeon's decisions for one case."""

    label: str = ""
    source: Source = field(default_factory=Source)
    segmentation: Segmentation = field(default_factory=Segmentation)
    osteotomies: tuple[Osteotomy, ...] = ()
    devices: tuple[Device, ...] = ()
    distractors: tuple[Distractor, ...] = ()
    protocol: Protocol = field(default_factory=Protocol)
    landmarks_mm: Mapping[str, Vec3] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def osteotomy(self, name: str) -> Osteotomy:
        """The osteotomy called ``name``."""
        return _by_name(self.osteotomies, name, "osteotomy")

    def distractor(self, name: str) -> Distractor:
        """The distractor called ``name``."""
        return _by_name(self.distractors, name, "distractor")


def _by_name(items, name, what):
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(i.name for i in items) or "none"
    raise PlannerError(f"no {what} called {name!r} in the case (known: {known})")


# ---------------------------------------------------------------------------------------
# Reading and validation


class _Reader:
    """Pull typed values out of one JSON object, naming fields in errors."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, Mapping):
            raise PlannerError(f"{where or 'case'}: expected an object, got {_kind(data)}")
        self.data = data
        self.where = where
        self.used: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str, default: Any = dataclasses.MISSING) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is dataclasses.MISSING:
                raise PlannerError(f"{self.name(key)} is missing")
            return default
        return self.data[key]

    def str(self, key: str, default: Any = dataclasses.MISSING, *, choices=None) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str):
            raise PlannerError(f"{self.name(key)} must be a string, got {_kind(value)}")
        if choices is not None and value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise PlannerError(f"{self.name(key)} is {value!r}; allowed: {allowed}")
        return value

    def bool(self, key: str, default: Any = dataclasses.MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise PlannerError(f"{self.name(key)} must be true or false, got {_kind(value)}")
        return value

    def float(
        self, key: str, default: Any = dataclasses.MISSING, *, lo=None, hi=None, open_lo=False
    ) -> float | None:
        value = self.raw(key, default)
        if value is None and default is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise PlannerError(f"{self.name(key)} must be a number, got {_kind(value)}")
        _check_range(self.name(key), float(value), lo, hi, open_lo)
        return float(value)

    def int(self, key: str, default: Any = dataclasses.MISSING, *, lo=None, hi=None) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise PlannerError(f"{self.name(key)} must be a whole number, got {_kind(value)}")
        _check_range(self.name(key), value, lo, hi, False)
        return value

    def vec(self, key: str, default: Any = dataclasses.MISSING, *, n=3, unit=False):
        value = self.raw(key, default)
        if value is None and default is None:
            return None
        if (
            not isinstance(value, list | tuple)
            or len(value) != n
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in value
            )
        ):
            raise PlannerError(f"{self.name(key)} must be a list of {n} numbers, got {value!r}")
        arr = np.asarray(value, dtype=float)
        if unit:
            norm = float(np.linalg.norm(arr))
            if norm < 1e-9:
                raise PlannerError(f"{self.name(key)} is a zero vector; give a direction")
            if abs(norm - 1.0) > 1e-12:  # keep unit vectors bit-stable through save/load
                arr = arr / norm
        return tuple(float(v) for v in arr)

    def objects(self, key: str) -> list[_Reader]:
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise PlannerError(f"{self.name(key)} must be a list, got {_kind(value)}")
        return [_Reader(v, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def done(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise PlannerError(
                f"{self.name(extra[0])}: unknown field (allowed here: {', '.join(sorted(self.used))})"
            )


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), repr(value)
    )


def _check_range(name, value, lo, hi, open_lo):
    if lo is not None and (value <= lo if open_lo else value < lo):
        raise PlannerError(f"{name} is {value:g}; it must be {'>' if open_lo else '>='} {lo:g}")
    if hi is not None and value > hi:
        raise PlannerError(f"{name} is {value:g}; it must be <= {hi:g}")


def _read_osteotomy(r: _Reader) -> Osteotomy:
    normal = np.asarray(r.vec("normal", unit=True))
    axis = np.asarray(r.vec("in_plane_axis", None) or _default_in_plane_axis(normal))
    if abs(float(axis @ normal)) > 1e-12:  # project into the plane (bit-stable when in it)
        axis = axis - normal * float(axis @ normal)
    if np.linalg.norm(axis) < 1e-6:
        raise PlannerError(
            f"{r.name('in_plane_axis')} is parallel to the normal; it must lie in the cut plane"
        )
    if abs(np.linalg.norm(axis) - 1.0) > 1e-12:
        axis = axis / np.linalg.norm(axis)
    ost = Osteotomy(
        name=r.str("name"),
        center_mm=r.vec("center_mm"),
        normal=tuple(float(v) for v in normal),
        size_mm=r.vec("size_mm", n=2),
        in_plane_axis=tuple(float(v) for v in axis),
        kerf_mm=r.float("kerf_mm", 1.0, lo=0.1, hi=5.0),
    )
    if min(ost.size_mm) <= 0:
        raise PlannerError(f"{r.name('size_mm')} must be two positive lengths in mm")
    r.done()
    return ost


def _default_in_plane_axis(normal: np.ndarray) -> tuple[float, float, float]:
    """The in-plane direction closest to patient superior (+z), else anterior (-y)."""
    for ref in ([0.0, 0.0, 1.0], [0.0, -1.0, 0.0]):
        ref = np.asarray(ref)
        axis = ref - normal * float(ref @ normal)
        if np.linalg.norm(axis) > 0.1:
            return tuple(float(v) for v in axis / np.linalg.norm(axis))
    raise AssertionError("unreachable: two orthogonal references cannot both be parallel")


def _read_device(r: _Reader) -> Device:
    kind = r.str("kind", choices=("linear", "curvilinear"))
    dev = Device(
        name=r.str("name"),
        kind=kind,
        stroke_mm=r.float("stroke_mm", lo=0, hi=200, open_lo=True),
        mm_per_turn=r.float("mm_per_turn", lo=0, hi=5, open_lo=True),
        track_radius_mm=r.float("track_radius_mm", None, lo=5, hi=1000),
        description=r.str("description", ""),
    )
    if kind == "curvilinear" and dev.track_radius_mm is None:
        raise PlannerError(f"{r.name('track_radius_mm')} is required for a curvilinear device")
    if kind == "linear" and dev.track_radius_mm is not None:
        raise PlannerError(f"{r.name('track_radius_mm')} applies only to curvilinear devices")
    r.done()
    return dev


def _read_distractor(r: _Reader) -> Distractor:
    d = Distractor(
        name=r.str("name"),
        device=r.str("device"),
        fixed_point_mm=r.vec("fixed_point_mm"),
        moving_point_mm=r.vec("moving_point_mm"),
        vector=r.vec("vector", unit=True),
        target_mm=r.float("target_mm", lo=0, hi=200, open_lo=True),
        curve_toward=r.vec("curve_toward", None, unit=True),
    )
    r.done()
    return d


def _read_protocol(r: _Reader) -> Protocol:
    p = Protocol(
        latency_days=r.float("latency_days", 1.0, lo=0, hi=30),
        rate_mm_per_day=r.float("rate_mm_per_day", 1.0, lo=0, hi=5, open_lo=True),
        activations_per_day=r.int("activations_per_day", 2, lo=1, hi=24),
        consolidation_days=r.float("consolidation_days", 56.0, lo=0, hi=365),
        start_date=r.str("start_date", ""),
        first_activation_time=r.str("first_activation_time", "08:00"),
    )
    if p.start_date:
        try:
            dt.date.fromisoformat(p.start_date)
        except ValueError:
            raise PlannerError(
                f"{r.name('start_date')} is {p.start_date!r}; use an ISO date like 2026-12-01"
            ) from None
    try:
        dt.time.fromisoformat(p.first_activation_time)
    except ValueError:
        raise PlannerError(
            f"{r.name('first_activation_time')} is {p.first_activation_time!r}; use HH:MM"
        ) from None
    r.done()
    return p


def case_from_dict(data: Any) -> Case:
    """Validate a case.json object and build a :class:`Case`.

    Raises
    ------
    PlannerError
        Naming the first field that is wrong and what is allowed.
    """
    r = _Reader(data, "")
    version = r.raw("schema_version")
    if version != SCHEMA_VERSION:
        raise PlannerError(
            f"schema_version is {version!r}; this planner reads version {SCHEMA_VERSION}"
            " (upgrade planner, or rewrite the case with 'planner segment')"
        )
    src = _Reader(r.raw("source", {}), "source")
    source = Source(path=src.str("path", ""), series_uid=src.str("series_uid", ""))
    src.done()
    seg = _Reader(r.raw("segmentation", {}), "segmentation")
    segmentation = Segmentation(
        threshold_hu=seg.float("threshold_hu", None, lo=-1000, hi=4000),
        separate_mandible=seg.bool("separate_mandible", True),
    )
    seg.done()
    prot = _Reader(r.raw("protocol", {}), "protocol")
    lm = _Reader(r.raw("landmarks_mm", {}), "landmarks_mm")
    landmarks = {str(k): lm.vec(k) for k in list(lm.data)}
    lm.done()
    case = Case(
        label=r.str("label", ""),
        source=source,
        segmentation=segmentation,
        osteotomies=tuple(_read_osteotomy(o) for o in r.objects("osteotomies")),
        devices=tuple(_read_device(d) for d in r.objects("devices")),
        distractors=tuple(_read_distractor(d) for d in r.objects("distractors")),
        protocol=_read_protocol(prot),
        landmarks_mm=landmarks,
    )
    r.done()
    _check_names(case)
    return case


def _check_names(case: Case) -> None:
    from planner.plan.devices import device_catalog

    for what, items in (
        ("osteotomies", case.osteotomies),
        ("devices", case.devices),
        ("distractors", case.distractors),
    ):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not item.name.strip():
                raise PlannerError(f"{what}[{i}].name is empty; give it a name")
            if item.name in seen:
                raise PlannerError(
                    f"{what}[{i}].name {item.name!r} is used twice; names must differ"
                )
            seen.add(item.name)
    catalog = device_catalog(case)
    for i, d in enumerate(case.distractors):
        if d.device not in catalog:
            raise PlannerError(
                f"distractors[{i}].device is {d.device!r}; known devices: {', '.join(catalog)}"
            )
        dev = catalog[d.device]
        if dev.kind == "curvilinear" and d.curve_toward is None:
            raise PlannerError(
                f"distractors[{i}].curve_toward is required for the curvilinear device {dev.name!r}"
            )


def case_to_dict(case: Case) -> dict[str, Any]:
    """The JSON object for ``case`` (round-trips through :func:`case_from_dict`)."""

    def clean(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {f.name: clean(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, Mapping):
            return {str(k): clean(v) for k, v in obj.items()}
        if isinstance(obj, tuple | list):
            return [clean(v) for v in obj]
        return obj

    out = clean(case)
    out = {"schema_version": out.pop("schema_version"), **out}
    for d in out["distractors"]:
        if d["curve_toward"] is None:
            del d["curve_toward"]
    for d in out["devices"]:
        if d["track_radius_mm"] is None:
            del d["track_radius_mm"]
    return out


def load_case(case_dir: str | Path) -> Case:
    """Read and validate ``CASE_DIR/case.json``."""
    path = Path(case_dir) / CASE_FILE
    if not path.is_file():
        raise PlannerError(f"{path} not found; create a case with 'planner segment SCAN -o DIR'")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlannerError(
            f"{path} is not valid JSON ({exc}); fix the file or restore it"
        ) from None
    return case_from_dict(data)


def save_case(case: Case, case_dir: str | Path) -> Path:
    """Write ``case`` to ``CASE_DIR/case.json`` atomically; returns the path."""
    path = Path(case_dir) / CASE_FILE
    text = json.dumps(case_to_dict(case), indent=2) + "\n"
    case_from_dict(json.loads(text))  # never write a file we could not read back
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------
# Editing the plan by numbers

_LISTS = {"osteotomy": "osteotomies", "distractor": "distractors", "device": "devices"}


def edit_item(case: Case, kind: str, name: str, fields: Mapping[str, Any], *, mode: str) -> Case:
    """A copy of ``case`` with one osteotomy, distractor or device added, changed or removed.

    Parameters
    ----------
    case : Case
        The case to edit (not modified).
    kind : {"osteotomy", "distractor", "device"}
        What to edit.
    name : str
        The item's name.
    fields : mapping
        JSON-style values (lists for vectors) of the fields to set; ignored for "remove".
    mode : {"add", "set", "remove"}
        Add a new item, change the given fields of an existing one, or remove it.

    The result is validated as a whole, so an edit cannot leave an invalid case; errors
    name the field as it is in case.json.
    """
    if kind not in _LISTS:
        raise ValueError(f"kind must be one of {sorted(_LISTS)}, got {kind!r}")
    data = case_to_dict(case)
    items = data[_LISTS[kind]]
    names = [i["name"] for i in items]
    if mode == "add":
        if name in names:
            raise PlannerError(
                f"a {kind} called {name!r} exists; change it with 'set' or pick a new name"
            )
        items.append({"name": name, **fields})
    elif mode in ("set", "remove"):
        if name not in names:
            known = ", ".join(names) or "none"
            raise PlannerError(f"no {kind} called {name!r} in the case (known: {known})")
        if mode == "set":
            items[names.index(name)].update(fields)
        else:
            del items[names.index(name)]
    else:
        raise ValueError(f"mode must be 'add', 'set' or 'remove', got {mode!r}")
    return case_from_dict(data)
