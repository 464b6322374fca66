"""The plan editor: the case being edited, its undo history and every edit (no VTK).

:class:`PlanEditor` is what the planning window's widgets and keys call. Each edit makes a
new :class:`~planner.plan.case.Case` through :func:`planner.plan.case_edit.edit_item` or
:func:`~planner.plan.case.case_from_dict`, so a value the CLI refuses is refused here with
the same words, and the case is left as it was. Saving goes through
:func:`~planner.plan.case.save_case` under the CLI's lock
(:func:`~planner.plan.case_edit.locked_case`), and refuses to overwrite a ``case.json``
that another command changed since the window read it.

Points are LPS mm and directions LPS vectors, as in ``case.json``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import PlannerError
from planner.plan.case import Case, case_from_dict, case_to_dict, load_case, save_case
from planner.plan.case_edit import edit_item, locked_case

__all__ = [
    "DEFAULT_CUT_SIZE_MM",
    "DEFAULT_DEVICE",
    "DEFAULT_TARGET_MM",
    "KINDS",
    "PlanEditor",
    "crossed_osteotomy",
]

KINDS = ("osteotomy", "distractor")
_LISTS = {"osteotomy": "osteotomies", "distractor": "distractors"}
DEFAULT_CUT_SIZE_MM = (20.0, 15.0)
DEFAULT_DEVICE = "linear-20"
DEFAULT_TARGET_MM = 15.0


def _vec(v, n: int = 3) -> list[float]:
    arr = np.asarray(v, dtype=float).reshape(-1)
    if arr.shape != (n,):
        raise PlannerError(f"expected {n} numbers, got {len(arr)}")
    return [float(x) for x in arr]


def crossed_osteotomy(case: Case, distractor: str) -> str | None:
    """The osteotomy whose plane lies between the distractor's footplates (nearest first).

    Returns its name, or None when no cut separates the two footplate points.
    """
    d = case.distractor(distractor)
    move, fix = np.asarray(d.moving_point_mm), np.asarray(d.fixed_point_mm)
    best = None
    for ost in case.osteotomies:
        n, c = np.asarray(ost.normal), np.asarray(ost.center_mm)
        if float((move - c) @ n) * float((fix - c) @ n) < 0:
            dist = float(np.linalg.norm((move + fix) / 2 - c))
            if best is None or dist < best[0]:
                best = (dist, ost.name)
    return None if best is None else best[1]


class PlanEditor:
    """A case under edit, with undo/redo and a selection.

    Parameters
    ----------
    case : Case
        The case to start from (as loaded).
    case_dir : path, optional
        Where :meth:`save` writes ``case.json``.
    models : mapping name -> trimesh.Trimesh, optional
        Bone models (LPS mm) that picked points snap to.
    history : int
        Undo steps kept.
    """

    def __init__(
        self,
        case: Case,
        case_dir: str | Path | None = None,
        models: Mapping[str, Any] | None = None,
        *,
        history: int = 200,
    ):
        self.case_dir = None if case_dir is None else Path(case_dir)
        self.models = dict(models or {})
        self._history: list[dict] = [case_to_dict(case)]
        self._cases: list[Case] = [case]
        self._at = 0
        self._saved_at = 0
        self._limit = max(int(history), 1)
        self._index = None  # surface index for snapping, made on first use
        self._disk = None if case_dir is None else case_to_dict(case)  # case.json as read
        self.selection: tuple[str, str] | None = None
        self.listeners: list[Callable[[str], None]] = []
        self.select_first()

    # ---------------------------------------------------------------- state
    @classmethod
    def open(cls, case_dir: str | Path) -> PlanEditor:
        """Load ``CASE_DIR/case.json`` and ``models/`` (PlannerError if either is missing)."""
        from planner.bone.models import read_models

        case = load_case(case_dir)
        return cls(case, case_dir, read_models(case_dir))

    @property
    def case(self) -> Case:
        """The current case."""
        return self._cases[self._at]

    @property
    def dirty(self) -> bool:
        """Edits not yet saved."""
        return self._at != self._saved_at

    @property
    def can_undo(self) -> bool:
        return self._at > 0

    @property
    def can_redo(self) -> bool:
        return self._at < len(self._cases) - 1

    def _notify(self, what: str) -> None:
        for listener in self.listeners:
            listener(what)

    def apply(self, case: Case, what: str = "edit") -> Case:
        """Make ``case`` (already validated) the current case, recording it for undo."""
        data = case_to_dict(case)
        if data == self._history[self._at]:
            return self.case
        del self._history[self._at + 1 :], self._cases[self._at + 1 :]
        self._history.append(data)
        self._cases.append(case)
        self._at += 1
        if len(self._cases) > self._limit + 1:
            drop = len(self._cases) - self._limit - 1
            del self._history[:drop], self._cases[:drop]
            self._at -= drop
            self._saved_at -= drop  # may go negative: the saved state is gone, still dirty
        self._fix_selection()
        self._notify(what)
        return case

    def undo(self) -> bool:
        """Step back one edit; False when there is none."""
        if not self.can_undo:
            return False
        self._at -= 1
        self._fix_selection()
        self._notify("undo")
        return True

    def redo(self) -> bool:
        """Step forward one undone edit; False when there is none."""
        if not self.can_redo:
            return False
        self._at += 1
        self._fix_selection()
        self._notify("redo")
        return True

    def save(self, *, force: bool = False) -> Path:
        """Write ``case.json`` through the CLI's validation, under its lock.

        Refuses (PlannerError) when ``case.json`` was changed by another command since it
        was read or last saved here, unless ``force``. Returns the path.
        """
        if self.case_dir is None:
            raise PlannerError("this plan has no case folder to save to")
        with locked_case(self.case_dir):
            on_disk = case_to_dict(load_case(self.case_dir))
            if not force and self._disk is not None and on_disk != self._disk:
                raise PlannerError(
                    "case.json was changed by another command since the window read it; "
                    "reopen the window to see that change, or save with 'save force' "
                    "to replace it"
                )
            path = save_case(self.case, self.case_dir)
            self._disk = case_to_dict(load_case(self.case_dir))
        self._saved_at = self._at
        self._notify("save")
        return path

    # ---------------------------------------------------------------- selection
    def items(self) -> list[tuple[str, str]]:
        """(kind, name) of every cut and distractor, cuts first."""
        return [("osteotomy", o.name) for o in self.case.osteotomies] + [
            ("distractor", d.name) for d in self.case.distractors
        ]

    def select(self, kind: str, name: str) -> None:
        if (kind, name) not in self.items():
            known = ", ".join(n for k, n in self.items() if k == kind) or "none"
            raise PlannerError(f"no {kind} called {name!r} in the case (known: {known})")
        self.selection = (kind, name)
        self._notify("select")

    def select_first(self) -> None:
        items = self.items()
        self.selection = items[0] if items else None

    def select_next(self, step: int = 1) -> tuple[str, str] | None:
        """Select the next (or previous, ``step=-1``) cut or distractor, cycling."""
        items = self.items()
        if not items:
            self.selection = None
        elif self.selection not in items:
            self.selection = items[0]
        else:
            self.selection = items[(items.index(self.selection) + step) % len(items)]
        self._notify("select")
        return self.selection

    def selection_point(self) -> np.ndarray | None:
        """Where the selection is: the cut's centre or the moving footplate (LPS mm)."""
        if self.selection is None:
            return None
        kind, name = self.selection
        if kind == "osteotomy":
            return np.asarray(self.case.osteotomy(name).center_mm, dtype=float)
        return np.asarray(self.case.distractor(name).moving_point_mm, dtype=float)

    def _fix_selection(self) -> None:
        if self.selection not in self.items():
            self.select_first()

    def _selected(self, kind: str, name: str | None) -> str:
        if name is not None:
            return name
        if self.selection is None or self.selection[0] != kind:
            raise PlannerError(f"select a {kind} first (Tab cycles through the plan)")
        return self.selection[1]

    # ---------------------------------------------------------------- generic edits
    def _edit(self, kind: str, name: str, fields: Mapping[str, Any], mode: str, what: str):
        return self.apply(edit_item(self.case, kind, name, fields, mode=mode), what)

    def _new_name(self, kind: str, stem: str) -> str:
        names = {n for k, n in self.items() if k == kind}
        i = 1
        while f"{stem}{i}" in names:
            i += 1
        return f"{stem}{i}"

    def remove(self, kind: str, name: str | None = None) -> None:
        """Remove a cut or a distractor (the selected one by default)."""
        name = self._selected(kind, name)
        self._edit(kind, name, {}, "remove", f"removed {kind} {name}")

    def rename(self, kind: str, new: str, name: str | None = None) -> None:
        """Rename a cut or a distractor; the new name is validated like any other field."""
        name = self._selected(kind, name)
        data = case_to_dict(self.case)
        for item in data[_LISTS[kind]]:
            if item["name"] == name:
                item["name"] = new
        self.apply(case_from_dict(data), f"renamed {kind} {name} to {new}")
        self.selection = (kind, new)

    # ---------------------------------------------------------------- osteotomies
    def add_osteotomy(
        self,
        center_mm,
        normal=(0.0, 0.0, 1.0),
        size_mm=DEFAULT_CUT_SIZE_MM,
        *,
        name: str | None = None,
        kerf_mm: float = 1.0,
    ) -> str:
        """Add a cut (selected afterwards); returns its name."""
        name = name or self._new_name("osteotomy", "cut")
        fields = {
            "center_mm": _vec(center_mm),
            "normal": _vec(normal),
            "size_mm": _vec(size_mm, 2),
            "kerf_mm": float(kerf_mm),
        }
        self._edit("osteotomy", name, fields, "add", f"added osteotomy {name}")
        self.selection = ("osteotomy", name)
        return name

    def set_osteotomy(self, name: str | None = None, **fields) -> None:
        """Change fields of a cut: ``center_mm``, ``normal``, ``size_mm``,
        ``in_plane_axis``, ``kerf_mm`` (case.json names; vectors as 3 numbers)."""
        name = self._selected("osteotomy", name)
        clean = {
            k: (_vec(v, 2 if k == "size_mm" else 3) if k != "kerf_mm" else float(v))
            for k, v in fields.items()
        }
        if "normal" in clean and "in_plane_axis" not in clean:
            clean["in_plane_axis"] = self._axis_for(name, clean["normal"])
        self._edit("osteotomy", name, clean, "set", f"changed osteotomy {name}")

    def _axis_for(self, name: str, normal) -> list[float] | None:
        """The cut's in-plane axis carried into a new plane (projected; None if lost)."""
        n = np.asarray(normal, dtype=float)
        n = n / max(np.linalg.norm(n), 1e-300)
        u = np.asarray(self.case.osteotomy(name).in_plane_axis)
        u = u - n * float(u @ n)
        if np.linalg.norm(u) < 0.1:
            return None  # case.json's default: the in-plane direction nearest +z
        return _vec(u / np.linalg.norm(u))

    def move_osteotomy(self, delta_mm, name: str | None = None) -> None:
        """Translate a cut by ``delta_mm`` (3,) LPS mm."""
        name = self._selected("osteotomy", name)
        c = np.asarray(self.case.osteotomy(name).center_mm) + np.asarray(delta_mm, dtype=float)
        self.set_osteotomy(name, center_mm=c)

    def tilt_osteotomy(self, degrees: float, axis: str = "u", name: str | None = None) -> None:
        """Turn a cut about its own in-plane axis ``"u"`` (in_plane_axis) or ``"v"``."""
        from planner.geometry.transforms import rotation_about_axis
        from planner.plan.cuts import osteotomy_frame

        name = self._selected("osteotomy", name)
        ost = self.case.osteotomy(name)
        frame = osteotomy_frame(ost)
        about = frame[:3, {"u": 0, "v": 1}[axis]]
        rot = rotation_about_axis(about, math.radians(degrees))
        self.set_osteotomy(name, normal=rot @ frame[:3, 2], in_plane_axis=rot @ frame[:3, 0])

    def resize_osteotomy(self, size_mm, name: str | None = None) -> None:
        """Set a cut's extent in its plane (along in_plane_axis, across it), mm."""
        self.set_osteotomy(name, size_mm=size_mm)

    def set_osteotomy_frame(self, frame, size_mm, name: str | None = None) -> None:
        """Place a cut from a (4, 4) frame (columns u, v, n, centre) and its size.

        This is what a box handle gives on release: the frame may carry scale in its
        columns (it is normalised); ``n`` becomes the normal, ``u`` the in-plane axis.
        """
        f = np.asarray(frame, dtype=float)
        u, n = f[:3, 0], f[:3, 2]
        self.set_osteotomy(
            name,
            center_mm=f[:3, 3],
            normal=n / np.linalg.norm(n),
            in_plane_axis=u / np.linalg.norm(u),
            size_mm=[round(float(s), 1) for s in size_mm],
        )

    def perpendicular(self, distractor: str | None = None, osteotomy: str | None = None) -> str:
        """Turn a cut perpendicular to a distractor's vector (the normal becomes the vector).

        With a cut selected, the distractor is the one whose footplates it separates; with
        a distractor selected, the cut is the one between its footplates. Returns the
        cut's name.
        """
        kind, selected = self.selection or ("", "")
        if distractor is None and kind == "osteotomy":
            osteotomy = osteotomy or selected
            crossing = [
                d.name
                for d in self.case.distractors
                if crossed_osteotomy(self.case, d.name) == osteotomy
            ]
            if not crossing:
                raise PlannerError(
                    f"no distractor has its footplates on both sides of osteotomy {osteotomy!r}"
                )
            distractor = crossing[0]
        distractor = self._selected("distractor", distractor)
        name = osteotomy or crossed_osteotomy(self.case, distractor)
        if name is None:
            raise PlannerError(
                f"no osteotomy lies between the footplates of distractor {distractor!r}; "
                "select the cut to turn"
            )
        self.set_osteotomy(name, normal=self.case.distractor(distractor).vector)
        return name

    # ---------------------------------------------------------------- distractors
    def add_distractor(
        self,
        moving_point_mm,
        fixed_point_mm=None,
        vector=(0.0, -1.0, 0.0),
        *,
        name: str | None = None,
        device: str = DEFAULT_DEVICE,
        target_mm: float = DEFAULT_TARGET_MM,
    ) -> str:
        """Add a distractor (selected afterwards); returns its name.

        The fixed point defaults to the moving one: pick it next.
        """
        name = name or self._new_name("distractor", "distractor")
        fields = {
            "device": device,
            "moving_point_mm": _vec(moving_point_mm),
            "fixed_point_mm": _vec(moving_point_mm if fixed_point_mm is None else fixed_point_mm),
            "vector": _vec(vector),
            "target_mm": float(target_mm),
        }
        self._edit("distractor", name, fields, "add", f"added distractor {name}")
        self.selection = ("distractor", name)
        return name

    def set_distractor(self, name: str | None = None, **fields) -> None:
        """Change fields of a distractor (case.json names: ``device``, ``target_mm``,
        ``vector``, ``fixed_point_mm``, ``moving_point_mm``, ``curve_toward``)."""
        name = self._selected("distractor", name)
        clean = {
            k: v if k == "device" else float(v) if k == "target_mm" else _vec(v)
            for k, v in fields.items()
        }
        if "device" in clean and not isinstance(clean["device"], str):
            raise PlannerError("device must be a catalog name (see 'planner device list')")
        self._edit("distractor", name, clean, "set", f"changed distractor {name}")

    def snap(self, point_mm) -> np.ndarray:
        """The point of the bone surface nearest ``point_mm`` (LPS mm)."""
        if not self.models:
            return np.asarray(point_mm, dtype=float)
        if self._index is None:
            from planner.geometry.closest import SurfaceIndex

            self._index = SurfaceIndex(np.concatenate([m.triangles for m in self.models.values()]))
        return self._index.query(np.asarray(point_mm, dtype=float)[None])[0][0]

    def pick_point(self, which: str, point_mm, name: str | None = None) -> np.ndarray:
        """Set the ``"fixed"`` or ``"moving"`` footplate point, snapped to the bone surface.

        The vector's end keeps its place relative to a moved moving point. Returns the
        snapped point.
        """
        if which not in ("fixed", "moving"):
            raise ValueError(f"which must be 'fixed' or 'moving', got {which!r}")
        name = self._selected("distractor", name)
        p = self.snap(point_mm)
        self.set_distractor(name, **{f"{which}_point_mm": p})
        return p

    def vector_end(self, name: str | None = None) -> np.ndarray:
        """Where the vector's arrow ends: moving point + vector x target, LPS mm."""
        d = self.case.distractor(self._selected("distractor", name))
        return np.asarray(d.moving_point_mm) + np.asarray(d.vector) * d.target_mm

    def drag_vector_end(self, end_mm, name: str | None = None, *, keep_length: bool = False):
        """Point the vector at ``end_mm``; the target becomes the distance (0.1 mm steps)
        unless ``keep_length``."""
        name = self._selected("distractor", name)
        d = self.case.distractor(name)
        v = np.asarray(end_mm, dtype=float) - np.asarray(d.moving_point_mm)
        length = float(np.linalg.norm(v))
        if length < 1e-6:
            raise PlannerError("the vector's end is on the moving point; drag it away")
        fields = {"vector": v / length}
        if not keep_length:
            fields["target_mm"] = round(length, 1)
        self.set_distractor(name, **fields)

    def set_device(self, device: str, name: str | None = None) -> None:
        """Choose the device (a catalog name: see :func:`planner.plan.devices.device_catalog`).

        A curvilinear device needs the side its track bends to: when the distractor has
        none, it curves toward the direction across the vector nearest patient superior.
        """
        from planner.plan.devices import device_catalog

        name = self._selected("distractor", name)
        fields: dict[str, Any] = {"device": device}
        dev = device_catalog(self.case).get(device)
        d = self.case.distractor(name)
        if dev is not None and dev.kind == "curvilinear" and d.curve_toward is None:
            v = np.asarray(d.vector)
            for ref in ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)):
                side = np.asarray(ref) - v * float(np.dot(ref, v))
                if np.linalg.norm(side) > 0.1:
                    fields["curve_toward"] = side / np.linalg.norm(side)
                    break
        self.set_distractor(name, **fields)

    def set_target(self, target_mm: float, name: str | None = None) -> None:
        self.set_distractor(name, target_mm=target_mm)

    def cycle_device(self, step: int = 1, name: str | None = None) -> str:
        """Switch to the next device of the catalog; returns its name."""
        from planner.plan.devices import device_catalog

        name = self._selected("distractor", name)
        names = list(device_catalog(self.case))
        current = self.case.distractor(name).device
        new = names[(names.index(current) + step) % len(names)] if current in names else names[0]
        self.set_device(new, name)
        return new
