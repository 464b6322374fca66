"""A case with known answers for the planning-window tests: two boxes of bone.

``mandible``: a 60 x 20 x 20 mm box centred at the origin; the cut ``mid`` (plane x = 0,
30 x 30 mm, kerf 1 mm) splits it into two halves; distractor ``d`` has its fixed footplate
on the top face at x = -15 and its moving one at x = +15, vector +x, 10 mm on a 15 mm
device. ``skull``: a 20 mm cube centred at (55, 0, 0). The moving half (x from 0.5 to 30)
ends 10 mm further on, so it stops 5.0 mm short of the skull (x = 45).
"""

from __future__ import annotations

import json
from pathlib import Path

import trimesh

from planner.plan.case import SCHEMA_VERSION, case_from_dict, save_case

GAP_AT_END_MM = 5.0


def box_models() -> dict[str, trimesh.Trimesh]:
    return {
        "mandible": trimesh.creation.box(extents=(60.0, 20.0, 20.0)),
        "skull": trimesh.creation.box(
            extents=(20.0, 20.0, 20.0),
            transform=trimesh.transformations.translation_matrix((55, 0, 0)),
        ),
    }


def box_case_dict() -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "label": "two boxes",
        "osteotomies": [
            {
                "name": "mid",
                "center_mm": [0.0, 0.0, 0.0],
                "normal": [1.0, 0.0, 0.0],
                "size_mm": [30.0, 30.0],
                "in_plane_axis": [0.0, 0.0, 1.0],
                "kerf_mm": 1.0,
            }
        ],
        "distractors": [
            {
                "name": "d",
                "device": "linear-15",
                "fixed_point_mm": [-15.0, 0.0, 10.0],
                "moving_point_mm": [15.0, 0.0, 10.0],
                "vector": [1.0, 0.0, 0.0],
                "target_mm": 10.0,
            }
        ],
        "protocol": {
            "latency_days": 1,
            "rate_mm_per_day": 1.0,
            "activations_per_day": 2,
            "consolidation_days": 42,
        },
    }


def box_case():
    return case_from_dict(box_case_dict())


def write_box_case(case_dir: Path, *, models: bool = True) -> Path:
    """A case folder: case.json and (unless ``models=False``) models/ with both boxes."""
    case_dir = Path(case_dir)
    case_dir.mkdir(parents=True, exist_ok=True)
    save_case(box_case(), case_dir)
    if models:
        folder = case_dir / "models"
        folder.mkdir(exist_ok=True)
        for name, mesh in box_models().items():
            mesh.export(folder / f"{name}.stl")
        names = [{"name": n} for n in box_models()]
        (folder / "models.json").write_text(json.dumps({"models": names}))
    return case_dir
