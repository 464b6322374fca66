"""Editing the case's guides by numbers: add, change, remove (what ``planner guide`` does).

Every edit goes through :func:`planner.plan.case.case_from_dict`, so a guide that breaks
a rule (a wall below what prints, an unknown osteotomy) is refused with one line naming
the field, and the case on disk is left as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.errors import PlannerError
from planner.plan.case import CLEARANCE_PRESETS_MM, Case, case_from_dict, case_to_dict

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
    data = case_to_dict(case)
    guides = data["guides"]
    names = [g["name"] for g in guides]
    if mode == "add":
        if name in names:
            raise PlannerError(
                f"a guide called {name!r} exists; change it with 'planner guide set' or pick "
                "another name"
            )
        guides.append({"name": name, **fields})
    elif mode in ("set", "remove"):
        if name not in names:
            known = ", ".join(names) or "none"
            raise PlannerError(f"no guide called {name!r} in the case (known: {known})")
        if mode == "set":
            guides[names.index(name)].update(fields)
            guides[names.index(name)] = {
                k: v for k, v in guides[names.index(name)].items() if v is not None
            }
        else:
            del guides[names.index(name)]
    else:
        raise ValueError(f"mode must be 'add', 'set' or 'remove', got {mode!r}")
    return case_from_dict(data)
