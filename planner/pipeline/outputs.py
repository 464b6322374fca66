"""The files of a plan: ``CASE_DIR/out/`` and its manifest.

:func:`write_plan` writes every output of a :class:`planner.pipeline.build.Plan` into a temporary
folder and moves it into place whole; ``out/manifest.json`` lists each output with its
kind (segment, schedule, poses, report) and, for meshes, watertight, volume and triangles.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["MANIFEST", "plan_report", "write_plan"]

MANIFEST = "manifest.json"
# Poses are written at this interval (days) for animation and inspection.
POSE_STEP_DAYS = 0.5


def write_plan(plan, out_dir: str | Path, *, pictures: bool = False) -> dict:
    """Write ``out/`` whole (replacing an older one only once complete); returns the manifest.

    ``pictures``: also render the default clip and stills (see :mod:`planner.render.bundle`).
    """
    from planner.fileio import atomic_dir

    out_dir = Path(out_dir)
    with atomic_dir(out_dir, overwrite=True) as tmp:
        entries = _write_outputs(plan, tmp)
        from planner.guides.run import write_guides, write_or_models

        entries += write_guides(plan.guides, tmp, plan.models) + write_or_models(plan, tmp)
        from planner.render.bundle import write_render_outputs

        entries += write_render_outputs(plan, tmp, pictures=pictures)
        manifest = {
            "planner": _version(),
            "case_label": plan.case.label,
            "disclaimer": "research software, not a certified medical device",
            "outputs": entries,
            "warnings": list(plan.warnings),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _version() -> str:
    from planner import __version__

    return __version__


def _mesh_entry(path: str, kind: str, mesh, *, folder: Path | None = None, **extra) -> dict:
    """A mesh's entry, its figures measured on the file as written and read back."""
    if folder is not None and (folder / path).is_file():
        from planner.bone.stl import stl_report

        r = stl_report(folder / path)
        figures = {k: r[k] for k in ("watertight", "volume_mm3", "triangles", "bodies")}
        figures["edges_not_two"] = r["edges_not_two"]
    else:
        figures = {
            "watertight": bool(mesh.is_watertight),
            "volume_mm3": round(float(mesh.volume), 1),
            "triangles": len(mesh.faces),
        }
    return {"path": path, "kind": kind, **figures, **extra}


def _write_outputs(plan, out: Path) -> list[dict]:
    from planner.bone.surface import write_stl
    from planner.motion.calendar import write_csv, write_ics

    entries = [
        _mesh_entry(f"../models/{name}.stl", "model", mesh, folder=out)
        for name, mesh in plan.models.items()
    ]
    seg_dir = out / "segments"
    seg_dir.mkdir()
    for name, mesh in plan.segments.items():
        write_stl(mesh, seg_dir / f"{name}.stl")
        entries.append(
            _mesh_entry(
                f"segments/{name}.stl", "segment", mesh, folder=out, role=plan.roles[name], day=0
            )
        )
    if plan.schedule is not None:
        t_end = plan.schedule.end_of_distraction_days
        for name, mesh in plan.meshes_at(t_end).items():
            if plan.roles[name].startswith("moving"):
                path = f"segments/{name}_end.stl"
                write_stl(mesh, out / path)
                entries.append(
                    _mesh_entry(
                        path, "segment", mesh, folder=out, role=plan.roles[name], day=t_end
                    )
                )
        write_csv(plan.schedule, out / "schedule.csv")
        entries.append({"path": "schedule.csv", "kind": "schedule"})
        if plan.case.protocol.start_date:
            write_ics(plan.schedule, out / "schedule.ics", label=plan.case.label or "case")
            entries.append({"path": "schedule.ics", "kind": "schedule"})
        (out / "poses.json").write_text(json.dumps(_poses(plan)) + "\n", encoding="utf-8")
        entries.append({"path": "poses.json", "kind": "poses"})
    (out / "plan.json").write_text(
        json.dumps(plan_report(plan), indent=2) + "\n", encoding="utf-8"
    )
    entries.append({"path": "plan.json", "kind": "report"})
    return entries


def _poses(plan) -> dict:
    """Pose of each moving segment every ``POSE_STEP_DAYS`` and at each activation."""
    end = plan.schedule.end_of_distraction_days
    # poses at the exact times (an activation time rounded down would come before its
    # turn); times are rounded only when written, and one time per rounded value is kept
    exact = {
        round(float(t), 6): float(t) for t in np.arange(0.0, end + POSE_STEP_DAYS, POSE_STEP_DAYS)
    }
    exact.update({round(a.time_days, 6): a.time_days for a in plan.schedule.activations})
    times = sorted(exact.items())
    moving = [n for n, r in plan.roles.items() if r.startswith("moving")]
    out = {"convention": "p' = M[:3,:3] @ p + M[:3,3], LPS mm, days since surgery", "poses": {}}
    for name in moving:
        out["poses"][name] = []
    for t_written, t in times:
        poses = plan.poses_at(t)
        for name in moving:
            out["poses"][name].append(
                {"t_days": t_written, "matrix": np.round(poses[name], 6).tolist()}
            )
    return out


def plan_report(plan) -> dict:
    """JSON-ready summary: segments, schedule, bilateral, measurements, collisions."""
    from planner.motion.measure import to_jsonable

    cut = plan.cut
    report = {
        "label": plan.case.label,
        "segments": [
            {
                "name": s.name,
                "model": s.model,
                "role": plan.roles[s.name],
                "volume_mm3": round(s.volume_mm3, 1),
            }
            for s in cut.segments
        ],
        "kerfs": [
            {"osteotomy": k.osteotomy, "volume_mm3": round(k.volume_mm3, 1)} for k in cut.kerfs
        ],
        "volume_balance": {m: round(v, 6) for m, v in cut.volume_balance().items()},
        "warnings": list(plan.warnings),
    }
    if plan.schedule is not None:
        s = plan.schedule
        report["schedule"] = {
            "activations": len(s.activations),
            "first_activation_days": s.first_activation_days,
            "end_of_distraction_days": s.end_of_distraction_days,
            "end_of_consolidation_days": s.end_of_consolidation_days,
            "distractors": {
                n: {
                    "planned_mm": p.planned_mm,
                    "n_activations": p.n_activations,
                    "day_target_reached": p.day_target_reached,
                }
                for n, p in s.plans.items()
            },
        }
        report["bilateral"] = to_jsonable(plan.bilateral)
        report["measurements"] = to_jsonable(plan.measurements)
        report["landmark_segments"] = plan.landmark_segments
    if plan.collisions is not None:
        c = plan.collisions
        report["collisions"] = {
            "findings": c.summary(),
            "precision_mm": c.precision_mm,
            "first_contact": to_jsonable(c.first_contact),
            "initial_contacts": to_jsonable(c.initial_contacts),
            "min_distance_mm": to_jsonable(c.min_distance_mm),
            "min_distance_t_days": to_jsonable(c.min_distance_t_days),
        }
    return report
