"""``planner demo``: the whole chain on the built-in synthetic sample.

Writes, into ``OUT_DIR``: ``dicom/`` (the sample CT as a DICOM series), ``case/`` (a case
folder: ``case.json`` with a bilateral mandibular distraction plan, ``models/`` and
``out/``). Each later stage adds itself here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.errors import PlannerError
from planner.progress import ProgressFn

if TYPE_CHECKING:
    from planner.bone.models import ModelsResult
    from planner.pipeline.build import Plan

__all__ = ["DemoResult", "demo_case", "run_demo", "sample_case"]

# The demo's devices are placed as a surgeon might place them by hand: each vector turned
# this far toward the midline, so the bilateral check has something to report.
DEMO_TOE_IN_DEG = 2.0
DEMO_TARGET_MM = 18.0
CONDYLE_HEAD_DEPTH_MM = 5.0


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What the demo made: the models stage result, the plan, and a listing of files."""

    models: ModelsResult
    plan: Plan
    contents: tuple[str, ...]


def demo_case(truth, *, source_path: str, series_uid: str, threshold_hu: float):
    """The demo's :class:`~planner.plan.case.Case` from the sample's ground truth plan.

    Two ramus osteotomies and two linear distractors, 1 mm/day in two activations, to
    ``DEMO_TARGET_MM``; landmarks at the sample's true chin, condyles and gonions.
    """
    from planner.plan.case import SCHEMA_VERSION, case_from_dict

    def rotate_z(v, deg):
        a = np.radians(deg)
        c, s = np.cos(a), np.sin(a)
        return [c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]]

    plan = truth.plan
    osteotomies = [
        {
            "name": o["name"],
            "center_mm": list(map(float, o["centre_mm"])),
            "normal": list(map(float, o["normal"])),
            "in_plane_axis": list(map(float, o["u_axis"])),
            "size_mm": list(map(float, o["size_mm"])),
            "kerf_mm": 1.0,
        }
        for o in plan["osteotomies"]
    ]
    distractors = []
    for d in plan["distractors"]:
        side = 1.0 if d["side"] == "left" else -1.0  # +x is the patient's left
        distractors.append(
            {
                "name": d["side"],
                "device": "linear-20",
                "fixed_point_mm": list(map(float, d["fixed_point_mm"])),
                "moving_point_mm": list(map(float, d["moving_point_mm"])),
                # turn the anterior vector toward the midline (toe-in) on each side
                "vector": [float(v) for v in rotate_z(d["vector"], -side * DEMO_TOE_IN_DEG)],
                "target_mm": DEMO_TARGET_MM,
            }
        )
    names = ("chin", "menton", "condyle_left", "condyle_right", "gonion_left", "gonion_right")
    landmarks = {n: np.asarray(truth.landmarks_mm[n], dtype=float) for n in names}
    for n in ("condyle_left", "condyle_right"):
        # on the condylar neck, 5 mm below the head's top: clear of the fossa it touches
        landmarks[n] = landmarks[n] - (0.0, 0.0, CONDYLE_HEAD_DEPTH_MM)
    start = dt.date.today() + dt.timedelta(days=7)
    return case_from_dict(
        {
            "schema_version": SCHEMA_VERSION,
            "label": "synthetic sample: bilateral mandibular distraction",
            "source": {"path": source_path, "series_uid": series_uid},
            "segmentation": {"threshold_hu": threshold_hu, "separate_mandible": True},
            "osteotomies": osteotomies,
            "distractors": distractors,
            # a cutting guide per osteotomy, lateral approach, that also drills the screw
            # holes of the distractor crossing it (every other setting at its default)
            "guides": [
                {"name": o["name"], "osteotomy": o["name"], "distractor": o["side"]}
                for o in plan["osteotomies"]
            ],
            "protocol": {
                "latency_days": 1,
                "rate_mm_per_day": 1.0,
                "activations_per_day": 2,
                "consolidation_days": 42,
                "start_date": start.isoformat(),
                "first_activation_time": "08:00",
            },
            "landmarks_mm": {n: [float(v) for v in p] for n, p in landmarks.items()},
        }
    )


def sample_case(case_file: str | Path, *, series_uid: str):
    """The decisions of ``case_file``, with their source pointed at the demo's sample CT."""
    import dataclasses
    import json

    from planner.plan.case import Source, case_from_dict

    path = Path(case_file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PlannerError(f"--case {path}: cannot read it as a case.json ({exc})") from None
    case = case_from_dict(data)
    return dataclasses.replace(case, source=Source(path="../dicom", series_uid=series_uid))


def run_demo(
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    case_file: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> DemoResult:
    """Generate the sample CT, segment it, plan it and build every output into ``out_dir``.

    Nothing is left half-written: the demo is made in a temporary folder beside
    ``out_dir`` and moved into place at the end.

    Parameters
    ----------
    out_dir : path
        Folder to create (``dicom/`` and ``case/`` inside it).
    overwrite : bool
        Replace a non-empty ``out_dir``.
    case_file : path, optional
        A ``case.json`` whose decisions replace the built-in bilateral plan (for example
        one of the project's ``samples/`` cases); its ``source`` is pointed at the sample
        CT written here.
    progress : callable, optional
        ``progress(task, done, total)``.
    """
    from planner.bone.models import build_models, read_models, write_models
    from planner.fileio import atomic_dir
    from planner.pipeline.build import OUT_DIR, plan_case
    from planner.pipeline.outputs import write_plan
    from planner.plan.case import save_case
    from planner.samples import make_head, write_ct_series

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise PlannerError(f"{out_dir} exists and is not empty; pass --force to replace it")
    with atomic_dir(out_dir, overwrite=True) as tmp:
        if progress:
            progress("making the sample CT", 0, 1)
        head = make_head()
        if progress:
            progress("making the sample CT", 1, 1)
        write_ct_series(
            head.volume,
            tmp / "dicom",
            progress=(lambda d, n: progress("writing DICOM", d, n)) if progress else None,
        )
        models = build_models(tmp / "dicom", progress=progress)
        case_dir = tmp / "case"
        if case_file is None:
            case = demo_case(
                head.truth,
                source_path="../dicom",
                series_uid=models.series_uid,
                threshold_hu=models.threshold_hu,
            )
        else:
            case = sample_case(case_file, series_uid=models.series_uid)
        write_models(models, case_dir)
        save_case(case, case_dir)
        plan = plan_case(case, read_models(case_dir), progress=progress)
        write_plan(plan, case_dir / OUT_DIR, pictures=True)  # the clip and stills too
        contents = tuple(
            sorted(
                str(p.relative_to(tmp))
                for p in tmp.rglob("*")
                if p.is_file() and p.parent.name != "dicom"
            )
        )
    return DemoResult(
        models, plan, (f"dicom/ ({len(list((out_dir / 'dicom').iterdir()))} slices)", *contents)
    )
