"""Editing a case by numbers: add, change or remove one item, under a lock.

Every edit builds the changed JSON object and hands it to
:func:`planner.plan.case.case_from_dict`, so an edit refuses exactly what loading
refuses, with the same words. ``labels`` map a field's path in ``case.json`` to what the
user typed (a command-line option such as ``--center``), so messages name it.

Two commands editing one case at once are serialised by :func:`locked_case`: each holds a
lock on ``case.json`` from reading it to writing it back, so no edit is lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.plan.case import CASE_FILE, Case, CaseError, case_from_dict, case_to_dict

__all__ = [
    "ITEM_LISTS",
    "LOCK_TIMEOUT_S",
    "edit_item",
    "edit_protocol",
    "locked_case",
    "set_landmark",
]

ITEM_LISTS = {
    "osteotomy": "osteotomies",
    "distractor": "distractors",
    "device": "devices",
    "guide": "guides",
}
LOCK_TIMEOUT_S = 30.0


@contextlib.contextmanager
def locked_case(case_dir: str | Path, *, timeout_s: float | None = None) -> Iterator[Path]:
    """Hold the lock of ``CASE_DIR/case.json`` (a read-modify-write is then safe).

    Waits at most ``timeout_s`` seconds (default :data:`LOCK_TIMEOUT_S`) for another
    command to finish, then raises :class:`PlannerError` saying so. Yields the case folder.
    """
    import filelock

    timeout_s = LOCK_TIMEOUT_S if timeout_s is None else timeout_s
    case_dir = Path(case_dir)
    if not (case_dir / CASE_FILE).is_file():
        raise PlannerError(
            f"{case_dir / CASE_FILE} not found; create a case with 'planner segment SCAN -o DIR'"
        )
    lock_path = case_dir / f".{CASE_FILE}.lock"
    lock = filelock.FileLock(lock_path, timeout=timeout_s)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise PlannerError(
            f"{case_dir / CASE_FILE} is being changed by another planner command (waited "
            f"{timeout_s:g} s); try again when it has finished"
        ) from None
    try:
        yield case_dir
    finally:
        lock.release()


def _validated(data: dict, labels: Mapping[str, str] | None) -> Case:
    try:
        return case_from_dict(data)
    except CaseError as exc:
        raise exc.renamed(labels or {}) from None


def item_labels(
    case: Case, kind: str, name: str, options: Mapping[str, str], *, mode: str
) -> dict[str, str]:
    """Paths of the item's fields (``osteotomies[1].center_mm``) -> option names.

    ``options`` maps a field key to the option the user typed it as (``center_mm`` ->
    ``--center``); ``name`` is the ``--name`` option.
    """
    items = case_to_dict(case)[ITEM_LISTS[kind]]
    names = [i["name"] for i in items]
    index = names.index(name) if mode == "set" and name in names else len(items)
    where = f"{ITEM_LISTS[kind]}[{index}]"
    return {f"{where}.{key}": opt for key, opt in options.items()} | {f"{where}.name": "--name"}


def edit_item(
    case: Case,
    kind: str,
    name: str,
    fields: Mapping[str, Any],
    *,
    mode: str,
    labels: Mapping[str, str] | None = None,
) -> Case:
    """A copy of ``case`` with one osteotomy, distractor, device or guide added, changed or
    removed.

    Parameters
    ----------
    case : Case
        The case to edit (not modified).
    kind : {"osteotomy", "distractor", "device", "guide"}
        What to edit.
    name : str
        The item's name.
    fields : mapping
        JSON-style values (lists for vectors) of the fields to set; ignored for "remove".
    mode : {"add", "set", "remove"}
        Add a new item, change the given fields of an existing one, or remove it.
    labels : mapping, optional
        Field paths -> what the user typed (see :func:`item_labels`).

    The result is validated as a whole, so an edit cannot leave an invalid case.
    """
    if kind not in ITEM_LISTS:
        raise ValueError(f"kind must be one of {sorted(ITEM_LISTS)}, got {kind!r}")
    data = case_to_dict(case)
    items = data[ITEM_LISTS[kind]]
    names = [i["name"] for i in items]
    if mode == "add":
        if name in names:
            raise PlannerError(
                f"a {kind} called {name!r} exists; change it with 'set' or pick a new name"
            )
        items.append({"name": name, **fields})
    elif mode in ("set", "remove"):
        if name not in names:
            known = ", ".join(names) or "none"
            raise PlannerError(f"no {kind} called {name!r} in the case (known: {known})")
        if mode == "set":
            items[names.index(name)].update(fields)
        else:
            del items[names.index(name)]
    else:
        raise ValueError(f"mode must be 'add', 'set' or 'remove', got {mode!r}")
    return _validated(data, labels)


def edit_protocol(
    case: Case, changes: Mapping[str, Any], *, labels: Mapping[str, str] | None = None
) -> Case:
    """A copy of ``case`` with the protocol fields in ``changes`` set (validated)."""
    data = case_to_dict(case)
    data["protocol"].update(changes)
    return _validated(data, labels)


def set_landmark(
    case: Case,
    name: str,
    point_mm: Sequence[float] | None,
    *,
    labels: Mapping[str, str] | None = None,
) -> Case:
    """A copy of ``case`` with landmark ``name`` set to ``point_mm`` (None: removed)."""
    data = case_to_dict(case)
    if point_mm is None:
        if name not in data["landmarks_mm"]:
            known = ", ".join(data["landmarks_mm"]) or "none"
            raise PlannerError(f"no landmark called {name!r} in the case (known: {known})")
        del data["landmarks_mm"][name]
    else:
        data["landmarks_mm"][name] = list(point_mm)
    return _validated(data, labels)
