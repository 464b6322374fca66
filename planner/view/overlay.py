"""The text overlays of the planning window: the keys, the day, the selection's numbers
and the warnings.

The keys, the selection and the warnings are corner annotations, which fit their font to
the window: VTK lays one out again whenever its words change (about 15 ms in software
OpenGL), so they change only on an edit. The day, which changes at every step of the day
slider, is a plain text at the top (about 1 ms to change).
"""

from __future__ import annotations

import functools
import textwrap

from planner.view.controls import HELP

__all__ = ["day_line", "selection_lines", "update_texts", "warning_lines"]

TEXT_PT = 10
DAY_PT = 10  # plain text is drawn at twice its size in points (pyvista)
DAY_AT = (0.5, 0.985)  # top centre, normalised window coordinates
WARNING_RGB, ERROR_RGB = (1.0, 0.85, 0.3), (1.0, 0.35, 0.3)


def update_texts(window) -> None:
    """Show the keys (upper left), the day (top), the selection (upper right) and the
    warnings (lower left) of ``window``; a text that has not changed is left as it is."""
    texts = {
        "help": ("\n".join(HELP) if window.show_help else "h: keys", "upper_left", "white"),
        "day": (day_line(window), DAY_AT, "white"),
        "selection": ("\n".join(selection_lines(window)), "upper_right", "white"),
        "warnings": (
            "\n".join(warning_lines(window)),
            "lower_left",
            ERROR_RGB if window.state.error else WARNING_RGB,
        ),
    }
    shown = window.overlays  # name -> (text, position, colour, actor)
    for name, (text, position, color) in texts.items():
        old = shown.get(name)
        if old is not None and old[:3] == (text, position, color):
            continue
        if old is not None and old[1:3] == (position, color):  # new words only
            if isinstance(position, str):
                old[3].set_text(position, text)
            else:
                old[3].SetInput(text)
            actor = old[3]
        else:
            actor = _add_text(window.plotter, name, text, position, color)
        shown[name] = (text, position, color, actor)


def _add_text(plotter, name: str, text: str, position, color):
    if isinstance(position, str):  # a corner
        size = TEXT_PT - 1 if name == "help" else TEXT_PT
        return plotter.add_text(
            text, position=position, font_size=size, color=color, name=name, render=False
        )
    actor = plotter.add_text(
        text,
        position=position,
        viewport=True,
        font_size=DAY_PT,
        color=color,
        name=name,
        render=False,
    )
    actor.prop.justification_horizontal = "center"
    actor.prop.justification_vertical = "top"
    return actor


def day_line(window) -> str:
    """The day shown, and the end of distraction."""
    return f"day {window.day:.1f} of {window.state.end_day:.1f}"


def selection_lines(window) -> list[str]:
    """The title and the selected item's numbers, one line each."""
    ed, case = window.editor, window.editor.case
    dirty = " (unsaved)" if ed.dirty else ""
    out = [f"{case.label or 'case'}{dirty}"]
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


@functools.lru_cache(maxsize=256)
def _wrap(text: str, width: int = 110) -> str:
    """``text`` in lines of ``width`` (remembered: the same warnings at every day step)."""
    return "\n   ".join(textwrap.wrap(text, width)) or text
