"""The segments of a plan: their names, their roles, and which lie near a point.

A segment is named after its model when the model is whole, else after the distractors
whose footplates it carries (``mandible_moving_left_right``, ``mandible_fixed_left``);
its role says which footplates it carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from planner.plan.cuts import CutResult

__all__ = ["name_segments", "segment_names", "segment_roles", "segments_near"]


def name_segments(cut: CutResult, moving_of, fixed_of) -> tuple[CutResult, list[str]]:
    """The cut with its segments named (see :func:`segment_names`), and the names."""
    import dataclasses

    names = segment_names(cut, moving_of, fixed_of)
    segments = tuple(
        dataclasses.replace(s, name=n) for s, n in zip(cut.segments, names, strict=True)
    )
    return dataclasses.replace(cut, segments=segments), names


def segments_near(cut: CutResult, point, within_mm: float, *, skip: int) -> list[int]:
    """Indices of segments (other than ``skip``) with a vertex within ``within_mm``."""
    p = np.asarray(point, dtype=float)
    near = []
    for j, s in enumerate(cut.segments):
        if (
            j == skip
            or np.any(s.mesh.bounds[0] - within_mm > p)
            or np.any(s.mesh.bounds[1] + within_mm < p)
        ):
            continue
        if np.min(np.linalg.norm(s.mesh.vertices - p, axis=1)) <= within_mm:
            near.append(j)
    return near


def segment_names(cut: CutResult, moving_of, fixed_of) -> list[str]:
    """A name for each segment: the model's own name when it is whole, else
    ``<model>_moving_<distractors>``, ``<model>_fixed_<distractors>`` or ``<model>_partN``.

    ``moving_of`` and ``fixed_of`` map distractor names to segment indices.
    """
    per_model: dict[str, int] = {}
    for s in cut.segments:
        per_model[s.model] = per_model.get(s.model, 0) + 1
    names = []
    for i, s in enumerate(cut.segments):
        moving = sorted(d for d, j in moving_of.items() if j == i)
        fixed = sorted(d for d, j in fixed_of.items() if j == i)
        if per_model[s.model] == 1:
            name = s.model
        elif moving:
            name = f"{s.model}_moving_{'_'.join(moving)}"
        elif fixed:
            name = f"{s.model}_fixed_{'_'.join(fixed)}"
        else:
            name = f"{s.model}_part{i + 1}"
        names.append(name)
    return names


def segment_roles(names: list[str], moving_of, fixed_of) -> dict[str, str]:
    """Segment name -> "moving (left, right)", "fixed (left)", both, or "static"."""
    roles = {}
    for i, name in enumerate(names):
        moving = sorted(d for d, j in moving_of.items() if j == i)
        fixed = sorted(d for d, j in fixed_of.items() if j == i)
        parts = []
        if moving:
            parts.append(f"moving ({', '.join(moving)})")
        if fixed:
            parts.append(f"fixed ({', '.join(fixed)})")
        roles[name] = "; ".join(parts) or "static"
    return roles
