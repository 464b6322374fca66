"""The guides stage: build and check every guide of a case; write guides and OR models.

:func:`build_guides` is what the plan calls (``planner check``, ``build`` and ``demo``);
:func:`write_guides` and :func:`write_or_models` write ``out/guides/`` and
``out/or_models/`` and return their manifest entries (kind ``guide`` and ``or_model``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import trimesh

from planner.guides.checks import check_guide, check_line
from planner.guides.files import COLOURS, write_3mf, write_stl
from planner.guides.make import GuidePart, build_guide
from planner.plan.case import Case, Guide

__all__ = [
    "BuiltGuide",
    "build_guides",
    "default_distractor",
    "guide_lines",
    "write_guides",
    "write_or_models",
]


@dataclass(frozen=True, eq=False)
class BuiltGuide:
    """A printable guide part and its checks (see :func:`planner.guides.checks.check_guide`)."""

    part: GuidePart
    checks: dict

    @property
    def name(self) -> str:
        return self.part.name


def build_guides(
    case: Case, models: Mapping[str, trimesh.Trimesh]
) -> tuple[tuple[BuiltGuide, ...], list[str]]:
    """Build and check every guide of ``case``; returns the guides and their warnings.

    Raises
    ------
    PlannerError
        Bad input, one line (see :func:`planner.guides.make.build_guide`).
    """
    built, warnings, solids = [], [], {}
    for guide in case.guides:
        for part in build_guide(guide, case, models):
            checks = check_guide(part, models, bone_solids=solids)
            checks["build_seconds"] = round(part.seconds, 3)
            built.append(BuiltGuide(part, checks))
            warnings += part.warnings
            if not checks["passed"]:
                warnings.append(
                    f"guide {part.name!r} failed its checks: {'; '.join(checks['failures'])}"
                )
    return tuple(built), warnings


def guide_lines(guides) -> list[str]:
    """One line per guide: its checks, then its insertion direction."""
    lines = []
    for g in guides:
        d = g.checks["insertion"]
        lines.append(
            check_line(g.name, g.checks)
            + f" (insert along {d[0]:+.2f} {d[1]:+.2f} {d[2]:+.2f} LPS)"
        )
    return lines


def default_distractor(case: Case, osteotomy: str) -> str:
    """The distractor whose footplates lie on both sides of ``osteotomy``, nearest to it;
    ``""`` when none does."""
    import numpy as np

    ost = case.osteotomy(osteotomy)
    n, c = np.asarray(ost.normal), np.asarray(ost.center_mm)
    best, best_d = "", float("inf")
    for d in case.distractors:
        f, m = np.asarray(d.fixed_point_mm), np.asarray(d.moving_point_mm)
        if float((f - c) @ n) * float((m - c) @ n) < 0:
            dist = float(np.linalg.norm((f + m) / 2 - c))
            if dist < best_d:
                best, best_d = d.name, dist
    return best


def _settings(guide: Guide) -> dict:
    out = dataclasses.asdict(guide)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}


def write_guides(guides, out_dir: str | Path, models: Mapping[str, trimesh.Trimesh]) -> list:
    """Write ``guides/<name>.stl`` and ``guides/<name>.3mf`` (the guide, and the bone it sits
    on as a second part) under ``out_dir``; returns manifest entries (kind ``guide``)."""
    out_dir = Path(out_dir)
    folder = out_dir / "guides"
    entries = []
    if not guides:
        return entries
    folder.mkdir(parents=True, exist_ok=True)
    for g in guides:
        p = g.part
        write_stl(p.mesh, folder / f"{p.name}.stl", f"guide {p.name}")
        bone = models[p.bone_model]
        write_3mf(
            [(p.name, p.mesh, COLOURS["guide"]), (p.bone_model, bone, COLOURS["bone"])],
            folder / f"{p.name}.3mf",
        )
        entries.append(
            {
                "path": f"guides/{p.name}.stl",
                "kind": "guide",
                "guide_kind": p.kind,
                "osteotomy": p.osteotomy.name,
                "distractor": p.guide.distractor,
                "3mf": f"guides/{p.name}.3mf",
                "watertight": g.checks["watertight"],
                "volume_mm3": g.checks["volume_mm3"],
                "triangles": g.checks["triangles"],
                "insertion": g.checks["insertion"],
                "label": list(p.label_lines),
                "screws": [
                    {
                        "name": s.name,
                        "point_mm": [round(float(v), 3) for v in s.point_mm],
                        "axis": [round(float(v), 5) for v in s.axis],
                        "diameter_mm": s.diameter_mm,
                    }
                    for s in p.screws
                ],
                "settings": _settings(p.guide),
                "checks": g.checks,
            }
        )
    return entries


def write_or_models(plan, out_dir: str | Path) -> list:
    """Models for the operating room: every segment before and after the planned movement
    (an STL each, one for a segment that does not move; ``before.3mf`` / ``after.3mf``
    with every part named and coloured, moved ones orange), in
    scan coordinates; returns manifest entries (kind ``or_model``), watertightness measured
    on each STL read back."""
    from planner.guides.checks import read_back

    out_dir = Path(out_dir)
    folder = out_dir / "or_models"
    folder.mkdir(parents=True, exist_ok=True)
    stages = {"before": (plan.segments, 0.0)}
    if plan.schedule is not None:
        end = plan.schedule.end_of_distraction_days
        stages["after"] = (plan.meshes_at(end), end)
    entries = []
    for stage, (meshes, day) in stages.items():
        parts = []
        for name, mesh in meshes.items():
            moving = plan.roles.get(name, "").startswith("moving")
            colour = COLOURS["moved"] if moving and stage == "after" else COLOURS["bone"]
            part = f"{name}_{stage}"
            if stage == "after" and mesh is plan.segments[name]:  # did not move: one STL
                parts.append((f"{name}_before", mesh, colour))
                continue
            write_stl(mesh, folder / f"{part}.stl", f"or model {part}")
            back = read_back(mesh)
            entries.append(
                {
                    "path": f"or_models/{part}.stl",
                    "kind": "or_model",
                    "segment": name,
                    "day": day,
                    "watertight": bool(back.is_watertight),
                    "volume_mm3": round(float(back.volume), 1),
                    "triangles": len(back.faces),
                }
            )
            parts.append((part, mesh, colour))
        write_3mf(parts, folder / f"{stage}.3mf")
        entries.append({"path": f"or_models/{stage}.3mf", "kind": "or_model", "day": day})
    return entries
