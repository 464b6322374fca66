"""A case folder's plan for pictures and checks: its decisions on its bone models.

The collision sweep and the guides are left out (they change no pose); run ``planner build`` or
``planner check`` for it.
"""

from __future__ import annotations

from pathlib import Path

from planner.errors import PlannerError

__all__ = ["load_plan"]


def load_plan(case_dir: str | Path):
    """:class:`planner.pipeline.build.Plan` of ``CASE_DIR`` from ``case.json`` and ``models/``."""
    from planner.bone.models import read_models
    from planner.pipeline.build import plan_case
    from planner.plan.case import load_case

    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise PlannerError(f"{case_dir} is not a case folder: give the folder holding case.json")
    case = load_case(case_dir)
    return plan_case(case, read_models(case_dir), collisions=False, guides=False)
