"""The case file: ``CASE_DIR/case.json`` holds the surgeon's decisions and nothing else.

Everything derived (models, segments, schedules, guides, renders) is rebuilt from it by
``planner build``. This module is the one owner of the case's rules: the file is versioned
(``schema_version``) and validated on load, every edit is validated as a whole, and the
schedule asks the same rules (:func:`protocol_problems`, :func:`distractor_problems`).
An unknown field, a missing required field or a value out of range raises
:class:`CaseError` listing every problem, each naming its field
(``osteotomies[1].normal``) and what is allowed.

Required: ``schema_version`` and the ``protocol`` block with its four numbers. Optional
(empty when absent): ``label``, ``source``, ``segmentation``, ``osteotomies``,
``devices``, ``distractors``, ``guides``, ``landmarks_mm``; within items, the fields
documented with a default (:mod:`planner.plan.case_blocks`, :class:`Guide`). The blocks
and their readers live in :mod:`~planner.plan.case_blocks`, the rules between fields in
:mod:`~planner.plan.case_rules`, editing under a lock in :mod:`~planner.plan.case_edit`.

All points are DICOM patient LPS in mm, kept to 0.001 mm; all directions are LPS vectors
(any length: they are made unit on load, kept to 1e-6).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.fileio import atomic_path
from planner.plan.case_blocks import (
    Distractor,
    Osteotomy,
    Protocol,
    Segmentation,
    Source,
    Vec3,
    read_device,
    read_distractor,
    read_landmarks,
    read_osteotomy,
    read_protocol,
    read_segmentation,
    read_source,
)
from planner.plan.case_reader import (
    MM_DIGITS,
    CaseError,
    FieldReader,
    Problem,
    describe,
)
from planner.plan.case_rules import (
    PROTOCOL_RANGES,
    distractor_problems,
    name_problems,
    protocol_problems,
)
from planner.plan.devices import Device, device_catalog

__all__ = [
    "CASE_FILE",
    "PROTOCOL_RANGES",
    "SCHEMA_VERSION",
    "Case",
    "CaseError",
    "Device",
    "Distractor",
    "Guide",
    "Osteotomy",
    "Problem",
    "Protocol",
    "Segmentation",
    "Source",
    "case_from_dict",
    "case_to_dict",
    "distractor_problems",
    "load_case",
    "protocol_problems",
    "save_case",
]

SCHEMA_VERSION = 1
CASE_FILE = "case.json"


@dataclass(frozen=True)
class Case:
    """The surgeon's decisions for one case."""

    label: str = ""
    source: Source = field(default_factory=Source)
    segmentation: Segmentation = field(default_factory=Segmentation)
    osteotomies: tuple[Osteotomy, ...] = ()
    devices: tuple[Device, ...] = ()
    distractors: tuple[Distractor, ...] = ()
    guides: tuple[Guide, ...] = ()
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
# The rules (the one owner: reading, editing and the schedule all ask these)


def case_problems(case: Case) -> list[Problem]:
    """Every problem of a case whose blocks were each read correctly."""
    catalog = device_catalog(case)
    return (
        name_problems(case.osteotomies, "osteotomies")
        + name_problems(case.devices, "devices")
        + distractor_problems(case.distractors, catalog)
        + protocol_problems(case.protocol)
        + guide_problems(case)
    )


# ---------------------------------------------------------------------------------------
# Reading: one reader per block (a new block adds a reader and a line in case_from_dict)


# ---------------------------------------------------------------------------------------
# Guides (issue 9): every dimension a setting in mm, defaults as in common practice

GUIDE_SIDES = ("lateral", "medial")
GUIDE_POSITIONING = ("combined", "separate", "none")
SLOT_ENDS = ("closed", "open_start", "open_end", "open")
CLEARANCE_PRESETS_MM = {"resin": 0.25, "filament": 0.4}
# Thinner walls do not print rigid (resin or a 0.4 mm nozzle): refused.
MIN_PRINTABLE_WALL_MM = 1.5
MIN_SLEEVE_WALL_MM = 1.0


@dataclass(frozen=True)
class Guide:
    """A printed cutting guide for one osteotomy that also drills the footplate screw holes.

    Parameters
    ----------
    name : str
        Unique name, e.g. ``"ramus_left"``.
    osteotomy : str
        The osteotomy whose cut the saw slot guides.
    distractor : str
        The distractor whose footplate screw holes are drilled through the guide; ``""``
        for none (then ``positioning`` must be ``"none"``).
    side : {"lateral", "medial"}
        The bone surface the guide sits on (extraoral or intraoral approach).
    positioning : {"combined", "separate", "none"}
        Drill holes in the cutting guide, in a second positioning guide, or none.
    margin_mm : float
        How far the shell reaches over the bone from the cut line (default 8).
    wall_mm : float
        Shell thickness (default 3; at least ``MIN_PRINTABLE_WALL_MM``).
    clearance_mm : float
        Printing clearance between guide and bone and on each side of the blade
        (``CLEARANCE_PRESETS_MM``: 0.25 resin, 0.4 filament).
    blade_mm : float
        Saw blade thickness; the slot is ``blade_mm + 2 * clearance_mm`` wide (default 1.0).
    slot_wall_mm : float
        Wall on each side of the slot (default 3).
    slot_depth_mm : float
        Least depth of the slot, from the top of the slot block to the guide's bone side
        (default 6): the block stands off the bone where the surface falls away.
    slot_ends : {"closed", "open_start", "open_end", "open"}
        Open ends let the blade out at the start and/or end of the cut line (along the
        osteotomy's ``in_plane_axis``).
    hole_diameter_mm : float or None
        Drill holes; None: the device's screw diameter + 2 × clearance.
    sleeve_length_mm : float
        Drill sleeves standing this far off the bone; 0 for none (default).
    sleeve_wall_mm : float
        Sleeve wall (default 1.5).
    insertion : (3,) float or None
        Direction in which the guide goes onto the bone; None: found from the bone.
    label : bool
        Engrave the case label, the side and the osteotomy name (no patient data).
    label_depth_mm : float
        Engraving depth (default 1.0).
    """

    name: str
    osteotomy: str
    distractor: str = ""
    side: str = "lateral"
    positioning: str = "combined"
    margin_mm: float = 8.0
    wall_mm: float = 3.0
    clearance_mm: float = 0.25
    blade_mm: float = 1.0
    slot_wall_mm: float = 3.0
    slot_depth_mm: float = 6.0
    slot_ends: str = "closed"
    hole_diameter_mm: float | None = None
    sleeve_length_mm: float = 0.0
    sleeve_wall_mm: float = 1.5
    insertion: Vec3 | None = None
    label: bool = True
    label_depth_mm: float = 1.0


def read_guide(r: FieldReader) -> Guide | None:
    mm = dict(unit="mm", digits=MM_DIGITS)
    g = Guide(
        name=r.str("name"),
        osteotomy=r.str("osteotomy"),
        distractor=r.str("distractor", ""),
        side=r.str("side", "lateral", choices=GUIDE_SIDES),
        positioning=r.str("positioning", "combined", choices=GUIDE_POSITIONING),
        margin_mm=r.float("margin_mm", 8.0, lo=2, hi=40, **mm),
        wall_mm=r.float("wall_mm", 3.0, lo=0, hi=10, open_lo=True, **mm),
        clearance_mm=r.float("clearance_mm", 0.25, lo=0.05, hi=1.0, **mm),
        blade_mm=r.float("blade_mm", 1.0, lo=0.2, hi=3.0, **mm),
        slot_wall_mm=r.float("slot_wall_mm", 3.0, lo=0, hi=10, open_lo=True, **mm),
        slot_depth_mm=r.float("slot_depth_mm", 6.0, lo=2, hi=30, **mm),
        slot_ends=r.str("slot_ends", "closed", choices=SLOT_ENDS),
        hole_diameter_mm=r.float("hole_diameter_mm", None, lo=0.5, hi=6, **mm),
        sleeve_length_mm=r.float("sleeve_length_mm", 0.0, lo=0, hi=30, **mm),
        sleeve_wall_mm=r.float("sleeve_wall_mm", 1.5, lo=MIN_SLEEVE_WALL_MM, hi=5, **mm),
        insertion=r.unit("insertion", None),
        label=r.bool("label", True),
        label_depth_mm=r.float("label_depth_mm", 1.0, lo=0.3, hi=2, **mm),
    )
    for key in ("wall_mm", "slot_wall_mm"):
        value = getattr(g, key)
        if value is not None and value < MIN_PRINTABLE_WALL_MM:
            r.fail(
                key,
                f"is {value:g} mm, below what prints ({MIN_PRINTABLE_WALL_MM:g} mm); "
                "make it thicker",
            )
    wall_ok = g.wall_mm is not None and g.wall_mm >= MIN_PRINTABLE_WALL_MM
    if wall_ok and g.label_depth_mm and g.label and g.label_depth_mm > g.wall_mm - 1.0:
        r.fail("label_depth_mm", f"is {g.label_depth_mm:g} mm; keep 1 mm of the wall under it")
    r.done()
    return g if r.ok else None


def guide_problems(case: Case, where: str = "guides") -> list[Problem]:
    """Guides naming an osteotomy or distractor the case does not have."""
    out = name_problems(case.guides, where)
    osteotomies = {o.name for o in case.osteotomies}
    distractors = {d.name for d in case.distractors}
    for i, g in enumerate(case.guides):
        if g.osteotomy not in osteotomies:
            known = ", ".join(sorted(osteotomies)) or "none"
            out.append(Problem(f"{where}[{i}].osteotomy", f"is {g.osteotomy!r}; known: {known}"))
        if g.distractor and g.distractor not in distractors:
            known = ", ".join(sorted(distractors)) or "none"
            text = f"is {g.distractor!r}; known: {known}"
            out.append(Problem(f"{where}[{i}].distractor", text))
        if not g.distractor and g.positioning != "none":
            text = "names no distractor to drill for; set one, or positioning 'none'"
            out.append(Problem(f"{where}[{i}].distractor", text))
    return out


_PROTOCOL_HINT = (
    " (the treatment protocol is never assumed: add it, e.g. "
    '"protocol": {"latency_days": 1, "rate_mm_per_day": 1, "activations_per_day": 2, '
    '"consolidation_days": 56})'
)


def case_from_dict(data: Any) -> Case:
    """Validate a case.json object and build a :class:`Case`.

    Raises
    ------
    CaseError
        Listing every problem, each naming its field and what is allowed.
    """
    problems: list[Problem] = []
    r = FieldReader(data, "", problems)
    if not r.ok:
        raise CaseError(problems)
    version = r.raw("schema_version")
    if "schema_version" in r.data and (type(version) is not int or version != SCHEMA_VERSION):
        r.fail(
            "schema_version",
            f"is {describe(version)}; this planner reads version {SCHEMA_VERSION}"
            " (upgrade planner, or rewrite the case with 'planner segment')",
        )
    blocks = dict(
        label=r.str("label", ""),
        source=read_source(r.block("source")),
        segmentation=read_segmentation(r.block("segmentation")),
        osteotomies=tuple(read_osteotomy(o) for o in r.objects("osteotomies")),
        devices=tuple(read_device(d) for d in r.objects("devices")),
        distractors=tuple(read_distractor(d) for d in r.objects("distractors")),
        guides=tuple(read_guide(g) for g in r.objects("guides")),
        protocol=read_protocol(r.block("protocol", required=True, hint=_PROTOCOL_HINT)),
        landmarks_mm=read_landmarks(r.block("landmarks_mm")),
    )
    r.done()
    if problems:  # the rules between blocks, on what could be read, then every problem
        problems += name_problems(blocks["osteotomies"], "osteotomies")
        problems += name_problems(blocks["devices"], "devices")
        catalog = device_catalog(Case(devices=blocks["devices"]))
        problems += distractor_problems(blocks["distractors"], catalog)
        raise CaseError(_unique(problems))
    case = Case(**blocks)
    problems = case_problems(case)
    if problems:
        raise CaseError(problems)
    return case


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


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
    seg = out["segmentation"]
    for key, default in (
        ("mandible_at_mm", None),
        ("labels_path", ""),
        ("label_values", {}),
        ("allow_gaps", False),
    ):
        if seg[key] == default:
            del seg[key]
    for g in out["guides"]:
        for key in ("hole_diameter_mm", "insertion"):
            if g[key] is None:
                del g[key]
    return out


def load_case(case_dir: str | Path) -> Case:
    """Read and validate ``CASE_DIR/case.json``."""
    path = Path(case_dir) / CASE_FILE
    if not path.is_file():
        raise PlannerError(f"{path} not found; create a case with 'planner segment SCAN -o DIR'")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise PlannerError(
            f"{path} nests too deeply to be a case; fix the file or restore it"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSON errors, 5,000-digit integers
        reason = str(exc).splitlines()[0][:120]
        raise PlannerError(
            f"{path} is not valid JSON ({reason}); fix the file or restore it"
        ) from None
    try:
        return case_from_dict(data)
    except RecursionError:  # pragma: no cover - json refuses such nesting first
        raise PlannerError(f"{path} nests too deeply to be a case") from None


# A list of numbers as json.dumps(indent=2) writes it: one number a line (a raw newline
# never occurs inside a JSON string, so names that look like lists are left alone).
_NUMBER_LIST = re.compile(r"\[\n\s*(-?[\d.eE+-]+(?:,\n\s*-?[\d.eE+-]+)*)\n\s*\]")


def readable_json(data: Any) -> str:
    """``data`` as indented JSON with each list of numbers (a point, a vector) on one line."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return _NUMBER_LIST.sub(
        lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text
    )


def save_case(case: Case, case_dir: str | Path) -> Path:
    """Write ``case`` to ``CASE_DIR/case.json`` atomically; returns the path.

    The case is validated first (never a file we could not read back) and written in
    its readable form (0.001 mm, unit vectors to 1e-6).
    """
    path = Path(case_dir) / CASE_FILE
    case = case_from_dict(case_to_dict(case))
    text = readable_json(case_to_dict(case))
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
