"""Typed commands: the planning window's way to enter numbers (no VTK).

The window collects a line after ``:`` (like a text field) and hands it to
:func:`run_command`, which calls one :class:`~planner.view.editor.PlanEditor` method on the
selected cut or distractor. Field names follow the CLI's options::

    center X Y Z   normal X Y Z   axis X Y Z   size A B   kerf K     (selected cut)
    fixed X Y Z    moving X Y Z   vector X Y Z target MM  device NAME (selected distractor)
    name NEW       remove         perp         select NAME
    add cut [NAME] add distractor [NAME]       save       undo       redo
"""

from __future__ import annotations

import shlex

import numpy as np

from planner.errors import PlannerError
from planner.view.editor import PlanEditor

__all__ = ["COMMANDS", "run_command"]

_CUT_VECTORS = {"center": "center_mm", "normal": "normal", "axis": "in_plane_axis"}
_DISTRACTOR_VECTORS = {
    "fixed": "fixed_point_mm",
    "moving": "moving_point_mm",
    "vector": "vector",
    "curve": "curve_toward",
}
COMMANDS = (
    "center",
    "normal",
    "axis",
    "size",
    "kerf",
    "fixed",
    "moving",
    "vector",
    "curve",
    "target",
    "device",
    "name",
    "remove",
    "perp",
    "select",
    "add",
    "save",
    "undo",
    "redo",
)


def _numbers(words: list[str], n: int, what: str) -> list[float]:
    try:
        values = [float(w.strip(",()[]")) for w in words]
    except ValueError:
        raise PlannerError(f"{what} needs {n} numbers, got {' '.join(words)!r}") from None
    if len(values) != n or not all(np.isfinite(values)):
        raise PlannerError(f"{what} needs {n} numbers, got {' '.join(words)!r}")
    return values


def _kind(editor: PlanEditor) -> str:
    return editor.selection[0] if editor.selection else ""


def run_command(editor: PlanEditor, line: str, *, here=None) -> str:
    """Run one typed command on ``editor``; returns what was done, one line.

    Parameters
    ----------
    editor : PlanEditor
    line : str
        E.g. ``"size 30 25"`` or ``"device linear-25"``.
    here : (3,) float, optional
        Where ``add cut`` / ``add distractor`` place the new item (LPS mm), e.g. the
        point last picked on the bone.

    Raises
    ------
    PlannerError
        An unknown command, a bad value (in the CLI's words), or nothing selected.
    """
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise PlannerError(f"cannot read {line!r}: {exc}") from None
    if not words:
        return ""
    verb, args = words[0].lower(), words[1:]
    if verb in _CUT_VECTORS and _kind(editor) != "distractor":
        editor.set_osteotomy(**{_CUT_VECTORS[verb]: _numbers(args, 3, verb)})
    elif verb == "size":
        editor.resize_osteotomy(_numbers(args, 2, verb))
    elif verb == "kerf":
        editor.set_osteotomy(kerf_mm=_numbers(args, 1, verb)[0])
    elif verb in _DISTRACTOR_VECTORS:
        values = _numbers(args, 3, verb)
        if verb in ("fixed", "moving"):
            editor.pick_point(verb, values)
        else:
            editor.set_distractor(**{_DISTRACTOR_VECTORS[verb]: values})
    elif verb == "target":
        editor.set_target(_numbers(args, 1, verb)[0])
    elif verb == "device":
        if len(args) != 1:
            raise PlannerError("device needs one catalog name (see 'planner device list')")
        editor.set_device(args[0])
    elif verb == "name":
        if len(args) != 1:
            raise PlannerError("name needs one new name (quote it if it has spaces)")
        editor.rename(_kind(editor) or "osteotomy", args[0])
    elif verb == "remove":
        kind = _kind(editor)
        if not kind:
            raise PlannerError("nothing selected to remove")
        editor.remove(kind)
    elif verb == "perp":
        return f"osteotomy {editor.perpendicular()!r} turned perpendicular to the vector"
    elif verb == "select":
        match = [(k, n) for k, n in editor.items() if n == " ".join(args)]
        if not match:
            names = ", ".join(n for _, n in editor.items()) or "none"
            raise PlannerError(f"nothing called {' '.join(args)!r} (known: {names})")
        editor.select(*match[0])
    elif verb == "add":
        return _add(editor, args, here)
    elif verb == "save":
        if args not in ([], ["force"]):
            raise PlannerError("save takes nothing, or 'force' to replace a changed case.json")
        return f"saved {editor.save(force=args == ['force'])}"
    elif verb in ("undo", "redo"):
        done = editor.undo() if verb == "undo" else editor.redo()
        return verb if done else f"nothing to {verb}"
    else:
        raise PlannerError(f"unknown command {verb!r}; commands: {', '.join(COMMANDS)}")
    return f"{verb}: done"


def _add(editor: PlanEditor, args: list[str], here) -> str:
    if not args or args[0] not in ("cut", "osteotomy", "distractor"):
        raise PlannerError("add what? 'add cut [NAME]' or 'add distractor [NAME]'")
    if here is None:
        raise PlannerError("pick a point on the bone first (P), then add")
    name = args[1] if len(args) > 1 else None
    if args[0] == "distractor":
        vector = (0.0, -1.0, 0.0)
        if _kind(editor) == "osteotomy":
            vector = editor.case.osteotomy(editor.selection[1]).normal
        return f"added distractor {editor.add_distractor(here, vector=vector, name=name)!r}"
    return f"added osteotomy {editor.add_osteotomy(here, name=name)!r}"
