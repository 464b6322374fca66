"""Typed reading of one JSON object of ``case.json``, gathering every problem.

:class:`FieldReader` pulls strings, numbers, points and unit vectors out of a JSON object
and records a :class:`Problem` (the field's path and what is wrong with it) for each bad
value instead of stopping at the first; :class:`CaseError` carries them all. The case
model (:mod:`planner.plan.case`) builds its blocks with it.

Numbers are refused when they are not finite or do not fit a float (a 400-digit integer);
points are rounded to 0.001 mm and unit vectors to 1e-6, so that ``case.json`` stays
readable and a saved case reads back identical.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.errors import PlannerError

__all__ = [
    "MM_DIGITS",
    "POINT_LIMIT_MM",
    "UNIT_DIGITS",
    "CaseError",
    "FieldReader",
    "Problem",
    "describe",
    "range_problem",
    "unit_vector",
]

MM_DIGITS = 3  # millimetres kept to 0.001 mm
UNIT_DIGITS = 6  # unit vectors kept to 1e-6
POINT_LIMIT_MM = 100_000.0  # no point of a head lies 100 m from the scanner's origin
_UNIT_TOLERANCE = 1e-5  # a vector this close to unit length is kept as written

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 40, 40
_REPR.maxlong = 24


def describe(value: Any) -> str:
    """A short, safe description of a JSON value for a message (never huge, never deep)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"a {len(str(abs(value)))}-digit integer"
    return _REPR.repr(value)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a case: ``path`` names the field, ``text`` says what is wrong.

    ``str(problem)`` is the one-line message, e.g. ``"protocol.rate_mm_per_day is 0; it
    must be > 0"``.
    """

    path: str
    text: str

    def __str__(self) -> str:
        return f"{self.path} {self.text}" if self.path else self.text

    def renamed(self, labels: Mapping[str, str]) -> Problem:
        """The problem with its path replaced by ``labels[path]`` (e.g. ``--center``)."""
        return dataclasses.replace(self, path=labels.get(self.path, self.path))


class CaseError(PlannerError):
    """A case that breaks the rules; ``problems`` lists every problem found.

    The message is the first problem, with a count of the others when there are more.
    """

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        first = str(self.problems[0]) if self.problems else "the case is not valid"
        more = len(self.problems) - 1
        if more > 0:
            first += (
                f" (and {more} more problem{'s' if more > 1 else ''}: 'planner check' lists all)"
            )
        super().__init__(first)

    def renamed(self, labels: Mapping[str, str]) -> CaseError:
        """The same problems, with the paths in ``labels`` renamed."""
        return CaseError([p.renamed(labels) for p in self.problems])


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (bools, strings, nan, 1e400, 400-digit ints)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def unit_vector(values: Sequence[float]) -> tuple[float, ...] | None:
    """``values`` scaled to unit length and rounded to 1e-6, or None for a zero vector.

    Safe for any finite input: the vector is divided by its largest component first, so
    ``(1e308, 1e308, 0)`` gives ``(0.707107, 0.707107, 0)``, not a zero vector.
    """
    from planner.geometry.vectors import unit

    if not any(values):
        return None
    if abs(math.hypot(*values) - 1.0) > _UNIT_TOLERANCE:  # else kept: saved cases read back equal
        values = unit(values).tolist()
    return tuple(round(float(v), UNIT_DIGITS) + 0.0 for v in values)


class FieldReader:
    """Pull typed values out of one JSON object, recording a problem per bad field.

    Each reading method returns the value, or None after recording a problem (``ok``
    turns False). ``problems`` is shared by all readers of one case.
    """

    def __init__(self, data: Any, where: str, problems: list[Problem]):
        self.where = where
        self.problems = problems
        self.used: set[str] = set()
        self.ok = isinstance(data, Mapping)
        self.data: Mapping[str, Any] = data if self.ok else {}
        if not self.ok:
            problems.append(Problem(where or "case", f"must be an object, got {describe(data)}"))

    def name(self, key: str) -> str:
        """The path of ``key`` in the case, e.g. ``osteotomies[1].center_mm``."""
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, text: str) -> None:
        """Record that ``key`` is wrong; returns None for the caller to return."""
        self.problems.append(Problem(self.name(key), text))
        self.ok = False

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = dataclasses.MISSING, *, hint: str = "") -> Any:
        """The value of ``key``; a problem when it is missing and has no default."""
        self.used.add(key)
        if key not in self.data:
            if default is dataclasses.MISSING:
                return self.fail(key, f"is missing{hint}")
            return default
        return self.data[key]

    def str(self, key: str, default: Any = dataclasses.MISSING, *, choices=None) -> str | None:
        if key not in self.data and default is not dataclasses.MISSING:
            return self.raw(key, default)
        value = self.raw(key)
        if value is None and key not in self.data:
            return None
        if not isinstance(value, str):
            return self.fail(key, f"must be a string, got {describe(value)}")
        if choices is not None and value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            return self.fail(key, f"is {describe(value)}; allowed: {allowed}")
        return value

    def bool(self, key: str, default: Any = dataclasses.MISSING) -> bool | None:
        if key not in self.data and default is not dataclasses.MISSING:
            return self.raw(key, default)
        value = self.raw(key)
        if not isinstance(value, bool):
            if key in self.data:
                self.fail(key, f"must be true or false, got {describe(value)}")
            return None
        return value

    def float(
        self,
        key: str,
        default: Any = dataclasses.MISSING,
        *,
        lo=None,
        hi=None,
        open_lo=False,
        unit="",
        digits: int | None = None,
        hint: str = "",
    ) -> float | None:
        """A finite number within ``[lo, hi]`` (``(lo, hi]`` with ``open_lo``)."""
        if key not in self.data and default is not dataclasses.MISSING:
            return self.raw(key, default)
        value = self.raw(key, hint=hint)
        if key not in self.data or (value is None and default is None):
            return None
        number = _finite(value)
        if number is None:
            return self.fail(key, f"must be a number, got {describe(value)}")
        if digits is not None:
            number = round(number, digits) + 0.0
        text = range_problem(number, lo, hi, open_lo, unit)
        if text:
            return self.fail(key, text)
        return number

    def int(self, key: str, default: Any = dataclasses.MISSING, *, lo=None, hi=None) -> int | None:
        if key not in self.data and default is not dataclasses.MISSING:
            return self.raw(key, default)
        value = self.raw(key)
        if key not in self.data:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 10**15:
            return self.fail(key, f"must be a whole number, got {describe(value)}")
        text = range_problem(value, lo, hi, False, "")
        if text:
            return self.fail(key, text)
        return value

    def numbers(self, key: str, default: Any = dataclasses.MISSING, *, n: int = 3):
        """A list of ``n`` finite numbers, as a tuple of floats."""
        if key not in self.data and default is not dataclasses.MISSING:
            return self.raw(key, default)
        value = self.raw(key)
        if key not in self.data or (value is None and default is None):
            return None
        numbers = (
            [_finite(v) for v in value] if isinstance(value, list | tuple) else [None] * (n + 1)
        )
        if len(numbers) != n or any(v is None for v in numbers):
            return self.fail(key, f"must be a list of {n} finite numbers, got {describe(value)}")
        return tuple(numbers)

    def point(self, key: str, default: Any = dataclasses.MISSING, *, n: int = 3):
        """A point (or ``n`` lengths) in mm, rounded to 0.001 mm."""
        values = self.numbers(key, default, n=n)
        if values is None or values is default:
            return values
        if max(abs(v) for v in values) > POINT_LIMIT_MM:
            return self.fail(
                key, f"is {describe(list(values))}; coordinates must lie within ±100 m"
            )
        return tuple(round(v, MM_DIGITS) + 0.0 for v in values)

    def unit(self, key: str, default: Any = dataclasses.MISSING):
        """A direction, scaled to unit length and rounded to 1e-6."""
        values = self.numbers(key, default)
        if values is None or values is default:
            return values
        vector = unit_vector(values)
        if vector is None:
            return self.fail(key, "is a zero vector; give a direction")
        return vector

    def objects(self, key: str) -> list[FieldReader]:
        """One reader per item of a list of objects (an absent list is empty)."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            self.fail(key, f"must be a list, got {describe(value)}")
            return []
        return [
            FieldReader(v, f"{self.name(key)}[{i}]", self.problems) for i, v in enumerate(value)
        ]

    def block(self, key: str, *, required: bool = False, hint: str = "") -> FieldReader:
        """A reader for the object at ``key`` (an absent optional block is empty)."""
        if required and key not in self.data:
            self.raw(key, hint=hint)
            empty = FieldReader({}, self.name(key), self.problems)
            empty.ok = False
            return empty
        return FieldReader(self.raw(key, {}), self.name(key), self.problems)

    def done(self) -> None:
        """Record every field that was not read as unknown."""
        for key in sorted(set(self.data) - self.used):
            allowed = ", ".join(sorted(self.used)) or "none"
            self.fail(key, f"is an unknown field (allowed here: {allowed})")


def range_problem(value, lo=None, hi=None, open_lo=False, unit="") -> str:
    """The text of a problem when ``value`` is outside ``[lo, hi]``, else ``""``."""
    u = f" {unit}" if unit else ""
    if lo is not None and (value <= lo if open_lo else value < lo):
        return f"is {value:g}{u}; it must be {'>' if open_lo else '>='} {lo:g}{u}"
    if hi is not None and value > hi:
        return f"is {value:g}{u}; it must be <= {hi:g}{u}"
    return ""
