"""The text overlays of the planning window: the selection's numbers and the warnings."""

from __future__ import annotations

import textwrap

__all__ = ["selection_lines", "warning_lines"]


def selection_lines(window) -> list[str]:
    """The title, the day and the selected item's numbers, one line each."""
    ed, case = window.editor, window.editor.case
    dirty = " (unsaved)" if ed.dirty else ""
    out = [f"{case.label or 'case'}{dirty}", f"day {window.day:.1f} of {window.state.end_day:.1f}"]
    if ed.selection is None:
        return [*out, "nothing selected: a adds a cut, A a distractor"]
    kind, name = ed.selection
    out.append(f"selected {kind} '{name}'")
    if kind == "osteotomy":
        o = case.osteotomy(name)
        out += [
            f"center {_xyz(o.center_mm)} mm",
            f"normal {_xyz(o.normal, 3)}",
            f"size {o.size_mm[0]:g} x {o.size_mm[1]:g} mm, kerf {o.kerf_mm:g} mm",
        ]
    else:
        from planner.plan.devices import device_catalog

        d = case.distractor(name)
        dev = device_catalog(case).get(d.device)
        stroke = f" (stroke {dev.stroke_mm:g} mm)" if dev else ""
        out += [
            f"device {d.device}{stroke}",
            f"target {d.target_mm:g} mm",
            f"fixed {_xyz(d.fixed_point_mm)}",
            f"moving {_xyz(d.moving_point_mm)}",
            f"vector {_xyz(d.vector, 3)}",
        ]
        catalog = " ".join(device_catalog(case))
        out.append(f"d / D: {catalog}")
        if name in window.state.angles_deg:
            cut, angle = window.state.angles_deg[name]
            out.append(f"vector {angle:.0f} deg from the normal of '{cut}'")
    return out


def warning_lines(window) -> list[str]:
    """The command being typed, the status, the refusal, every warning, the preview."""
    out = []
    if window.controls.typing is not None:
        out.append(f": {window.controls.typing}_   (Enter runs, Esc cancels)")
    if window.replanner is not None and window.replanner.busy:
        out.append("re-planning: cutting the bone and checking the segments ...")
    if window.status:
        out.append(window.status)
    if window.state.error:
        out.append(_wrap("PLAN REFUSED: " + window.state.error))
    out += [_wrap("! " + w) for w in window.state.warnings]
    out += window.preview_lines
    editor = window.editor
    case_file = None if editor.case_dir is None else editor.case_dir / "case.json"
    guides = getattr(window, "guides", None)  # made once the scene is drawn
    if guides and (note := guides.note(len(editor.case.guides), case_file, editor.dirty)):
        out.append(note)  # never hide a doubt: say what the guides drawn are
    return out or ["no warnings"]


def _xyz(v, digits: int = 1) -> str:
    return "(" + ", ".join(f"{x:.{digits}f}" for x in v) + ")"


def _wrap(text: str, width: int = 110) -> str:
    return "\n   ".join(textwrap.wrap(text, width)) or text
