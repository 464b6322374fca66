"""Editing the case's guides by numbers: add, change, remove (what ``planner guide`` does).

Every edit goes through :func:`planner.plan.case_edit.edit_item`, as the other items'
edits do, so a guide that breaks
a rule (a wall below what prints, an unknown osteotomy) is refused with one line naming
the field, and the case on disk is left as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.errors import PlannerError
from planner.plan.case import CLEARANCE_PRESETS_MM, Case
from planner.plan.case_edit import edit_item

__all__ = ["edit_guide"]


def edit_guide(case: Case, name: str, fields: Mapping[str, Any], *, mode: str) -> Case:
    """A copy of ``case`` with guide ``name`` added, changed or removed.

    Parameters
    ----------
    case : Case
    name : str
    fields : mapping
        case.json field names and JSON values (lists for vectors); ``printer`` (resin or
        filament) sets ``clearance_mm`` to its preset. Ignored for "remove".
    mode : {"add", "set", "remove"}

    Raises
    ------
    PlannerError
        An unknown guide (set, remove), a name in use (add), or a guide that breaks a rule.
    """
    fields = dict(fields)
    printer = fields.pop("printer", None)
    if printer is not None:
        if "clearance_mm" in fields:
            raise PlannerError("give either --printer or --clearance, not both")
        fields["clearance_mm"] = CLEARANCE_PRESETS_MM[printer]
    return edit_item(case, "guide", name, fields, mode=mode)
