"""The turn schedule: every activation of every distractor (exports: :mod:`.calendar`).

Time is counted in days since surgery: ``t = 0`` is 00:00 (local wall-clock time, no time
zone) on the day of surgery, ``protocol.start_date``; day ``k`` is the ``k``-th calendar day
after surgery (the day of surgery is day 0). The distractors of one case share the
protocol: all are turned at the same moments.

Timing rule
    After the latency, the first activation is at the first ``first_activation_time``
    at or after ``t = latency_days`` (latency 1 day, 08:00 -> ``t = 1 + 8/24``); then one
    activation every ``24 / activations_per_day`` hours, each of
    ``rate_mm_per_day / activations_per_day`` mm, until the target. The last activation
    is partial when the target is not a whole number of steps. A target beyond the
    device's stroke is refused, by the case model's rule (as ``check`` and ``build`` do).
Milestones
    ``day_target_reached`` of a distractor is the time of its last activation; the end
    of distraction is the latest of these; the end of consolidation is the end of
    distraction plus ``consolidation_days``; the device removal estimate is the end of
    consolidation (the earliest the devices can come out).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from planner.errors import PlannerError
from planner.plan.case import (
    CaseError,
    Device,
    Distractor,
    Protocol,
    distractor_problems,
    protocol_problems,
)

__all__ = [
    "Activation",
    "DistractorPlan",
    "ProtocolLimits",
    "Schedule",
    "format_mm",
    "format_turns",
    "length_at",
    "make_schedule",
    "schedule_rows",
]

_EPS = 1e-9


@dataclass(frozen=True)
class ProtocolLimits:
    """Ranges outside which a protocol value earns a warning (from the domain notes).

    Parameters
    ----------
    rate_mm_per_day : (2,) float
        Usual rate range.
    max_latency_days : float
        Latencies above this are unusual (5-7 days in older children and adults).
    min_activations_per_day : int
        The usual rhythm is 2-4 activations a day; fewer, larger steps are worse for the
        new bone.
    min_consolidation_days : float
        Consolidation is usually 6-12 weeks.
    consolidation_ratio : float
        Consolidation is often about this many times the distraction period.
    target_mm : (2,) float
        Targets reported for the mandible (15-30), the midface (10-25) and the vault
        (19-22 mm) all lie in this range.
    turn_fraction : float
        An activation should be a whole multiple of this fraction of a rod turn, and at
        least one such fraction (a quarter turn).
    """

    rate_mm_per_day: tuple[float, float] = (0.5, 2.0)
    max_latency_days: float = 7.0
    min_activations_per_day: int = 2
    min_consolidation_days: float = 42.0
    consolidation_ratio: float = 2.0
    target_mm: tuple[float, float] = (10.0, 30.0)
    turn_fraction: float = 0.25


@dataclass(frozen=True)
class Activation:
    """One turn of one distractor.

    ``index`` is the 1-based row number over the whole schedule (time order, then the
    order of the distractors); ``number`` is the 1-based count for this distractor.
    ``when`` is None when ``protocol.start_date`` is not set.
    """

    index: int
    number: int
    distractor: str
    time_days: float
    when: dt.datetime | None
    turns: float
    mm: float
    cumulative_mm: float

    @property
    def day(self) -> int:
        """Calendar day after surgery (the day of surgery is day 0)."""
        return math.floor(self.time_days + _EPS)


@dataclass(frozen=True)
class DistractorPlan:
    """The schedule of one distractor.

    ``planned_mm`` is the target (never beyond the stroke: the case model refuses that).
    ``partial_last_mm`` is the size of the last activation when it is smaller than a full
    step, else None. ``day_target_reached`` is the time (days since surgery) of the last
    activation.
    """

    distractor: Distractor
    device: Device
    target_mm: float
    planned_mm: float
    step_mm: float
    turns_per_activation: float
    n_activations: int
    partial_last_mm: float | None
    day_target_reached: float
    when_target_reached: dt.datetime | None


@dataclass(frozen=True)
class Schedule:
    """Every activation of every distractor of a case (see the module notes for timing)."""

    protocol: Protocol
    plans: Mapping[str, DistractorPlan]
    activations: tuple[Activation, ...]
    surgery: dt.datetime | None
    first_activation_days: float
    end_of_distraction_days: float
    end_of_consolidation_days: float
    removal_days: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def distractors(self) -> tuple[Distractor, ...]:
        """The distractors, in case order."""
        return tuple(p.distractor for p in self.plans.values())

    @property
    def distraction_days(self) -> float:
        """Length of the distraction period: activations x interval, in days."""
        n = max(p.n_activations for p in self.plans.values())
        return n / self.protocol.activations_per_day

    def when(self, t_days: float) -> dt.datetime | None:
        """Wall-clock time of ``t_days`` (to the second), or None without a start date."""
        if self.surgery is None:
            return None
        return self.surgery + dt.timedelta(seconds=round(t_days * 86400.0))


def _check_protocol(protocol: Protocol) -> tuple[dt.datetime | None, float]:
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a Protocol, got {type(protocol).__name__}")
    problems = protocol_problems(protocol)
    if problems:
        raise CaseError(problems)
    clock = dt.time.fromisoformat(protocol.first_activation_time)
    surgery = None
    if protocol.start_date:
        surgery = dt.datetime.combine(dt.date.fromisoformat(protocol.start_date), dt.time())
    tod = (clock.hour * 3600 + clock.minute * 60 + clock.second) / 86400.0
    return surgery, tod


def make_schedule(
    distractors: Sequence[Distractor],
    catalog: Mapping[str, Device],
    protocol: Protocol,
    *,
    limits: ProtocolLimits | None = None,
) -> Schedule:
    """List every activation of every distractor.

    Parameters
    ----------
    distractors : sequence of Distractor
        The case's distractors (at least one); they share ``protocol``.
    catalog : mapping str -> Device
        Devices by name, e.g. :func:`planner.plan.devices.device_catalog`.
    protocol : Protocol
        Latency, rate, rhythm, consolidation, start date and first activation time.
    limits : ProtocolLimits, optional
        Ranges for the warnings (defaults: the domain notes).

    Returns
    -------
    Schedule
        With one-line ``warnings`` for a partial last activation and protocol values
        outside the usual ranges.

    Raises
    ------
    PlannerError
        No distractors; :class:`~planner.plan.case.CaseError` for what the case model
        refuses (bad protocol values, duplicate names, an unknown device, a target beyond
        the stroke), in the same words as ``planner check``.
    """
    limits = ProtocolLimits() if limits is None else limits
    surgery, tod = _check_protocol(protocol)
    distractors = tuple(distractors)
    if not distractors:
        raise PlannerError("the case has no distractors; add one with 'planner distractor add'")
    problems = distractor_problems(distractors, catalog)
    if problems:  # the case model's rules: unique names, known devices, the stroke
        raise CaseError(problems)
    apd = int(protocol.activations_per_day)
    step = protocol.rate_mm_per_day / apd
    interval = 1.0 / apd
    first = tod + math.ceil(protocol.latency_days - tod - _EPS)
    warnings: list[str] = []

    plans: dict[str, DistractorPlan] = {}
    rows: list[tuple[float, int, int, str, float, float, float]] = []
    for order, d in enumerate(distractors):
        device = catalog[d.device]
        planned = float(d.target_mm)
        n = max(1, math.ceil(planned / step - 1e-9))
        last = planned - (n - 1) * step
        partial = None if abs(last - step) <= 1e-9 * max(1.0, step) else last
        if partial is not None:
            warnings.append(
                f"distractor {d.name!r}: the last activation is partial, {format_mm(last)} mm"
                f" ({format_turns(last / device.mm_per_turn)}), because {format_mm(planned)} mm"
                f" is not a multiple of {format_mm(step)} mm"
            )
        for k in range(1, n + 1):
            t = first + (k - 1) * interval
            mm = step if k < n else last
            cum = k * step if k < n else planned
            rows.append((t, order, k, d.name, mm / device.mm_per_turn, mm, cum))
        t_last = first + (n - 1) * interval
        plans[d.name] = DistractorPlan(
            distractor=d,
            device=device,
            target_mm=float(d.target_mm),
            planned_mm=planned,
            step_mm=step,
            turns_per_activation=step / device.mm_per_turn,
            n_activations=n,
            partial_last_mm=partial,
            day_target_reached=t_last,
            when_target_reached=_when(surgery, t_last),
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    activations = tuple(
        Activation(
            index=i,
            number=k,
            distractor=name,
            time_days=t,
            when=_when(surgery, t),
            turns=turns,
            mm=mm,
            cumulative_mm=cum,
        )
        for i, (t, _, k, name, turns, mm, cum) in enumerate(rows, start=1)
    )
    end = max(p.day_target_reached for p in plans.values())
    consolidation_end = end + protocol.consolidation_days
    schedule = Schedule(
        protocol=protocol,
        plans=plans,
        activations=activations,
        surgery=surgery,
        first_activation_days=first,
        end_of_distraction_days=end,
        end_of_consolidation_days=consolidation_end,
        removal_days=consolidation_end,
    )
    warnings += _protocol_warnings(schedule, limits)
    return dataclasses.replace(schedule, warnings=tuple(warnings))


def _protocol_warnings(schedule: Schedule, limits: ProtocolLimits) -> list[str]:
    p = schedule.protocol
    out = []
    lo, hi = limits.rate_mm_per_day
    if not lo <= p.rate_mm_per_day <= hi:
        out.append(
            f"rate {format_mm(p.rate_mm_per_day)} mm/day is outside the usual {format_mm(lo)}-{format_mm(hi)} mm/day"
        )
    if p.latency_days > limits.max_latency_days:
        out.append(
            f"latency {p.latency_days:g} days is longer than the usual maximum"
            f" of {limits.max_latency_days:g} days"
        )
    if p.activations_per_day < limits.min_activations_per_day:
        out.append(
            f"{p.activations_per_day} activation(s) a day; 2-4 smaller steps a day are usual"
            " and better for the new bone"
        )
    seen: set[str] = set()
    for plan in schedule.plans.values():
        if plan.device.name in seen:
            continue
        seen.add(plan.device.name)
        turns = plan.turns_per_activation
        frac = limits.turn_fraction
        if turns < frac - 1e-9:
            out.append(
                f"each activation of {plan.device.name!r} is {format_turns(turns)}"
                f" ({format_mm(plan.step_mm)} mm), less than {format_turns(frac)}: hard to turn accurately"
            )
        elif abs(turns / frac - round(turns / frac)) > 1e-6:
            out.append(
                f"each activation of {plan.device.name!r} is {format_turns(turns)}"
                f" ({format_mm(plan.step_mm)} mm at {format_mm(plan.device.mm_per_turn)} mm per turn),"
                f" not a whole number of {format_turns(frac)}s: change the rate or rhythm"
            )
    if p.consolidation_days < limits.min_consolidation_days:
        out.append(
            f"consolidation {p.consolidation_days:g} days is shorter than the usual minimum"
            f" of {limits.min_consolidation_days:g} days (6 weeks)"
        )
    period = max(plan.planned_mm for plan in schedule.plans.values()) / p.rate_mm_per_day
    if p.consolidation_days < limits.consolidation_ratio * period - 1e-9:
        out.append(
            f"consolidation {p.consolidation_days:g} days is shorter than about"
            f" {limits.consolidation_ratio:g}x the distraction period"
            f" ({limits.consolidation_ratio:g} x {period:g} = {limits.consolidation_ratio * period:g} days)"
        )
    lo, hi = limits.target_mm
    for plan in schedule.plans.values():
        if not lo <= plan.target_mm <= hi:
            out.append(
                f"distractor {plan.distractor.name!r}: target {format_mm(plan.target_mm)} mm is outside"
                f" the usual {format_mm(lo)}-{format_mm(hi)} mm for craniofacial distraction"
            )
    return out


def _when(surgery: dt.datetime | None, t_days: float) -> dt.datetime | None:
    if surgery is None:
        return None
    return surgery + dt.timedelta(seconds=round(t_days * 86400.0))


def format_mm(value: float) -> str:
    """A length without trailing zeros: 0.5, 3.25, 15."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def format_turns(turns: float) -> str:
    """Turns of the rod in words: ``"1 turn"``, ``"1/2 turn"``, ``"1 1/4 turns"``, ``"0.37 turn"``."""
    quarters = turns * 4
    if abs(quarters - round(quarters)) < 1e-6 and round(quarters) > 0:
        whole, q = divmod(round(quarters), 4)
        frac = {0: "", 1: "1/4", 2: "1/2", 3: "3/4"}[q]
        text = " ".join(s for s in (str(whole) if whole else "", frac) if s)
        return f"{text} {'turn' if round(quarters) <= 4 else 'turns'}"
    return f"{turns:.2f} turn{'s' if turns > 1 else ''}"


def _plan(schedule: Schedule, name: str) -> DistractorPlan:
    try:
        return schedule.plans[name]
    except KeyError:
        known = ", ".join(schedule.plans)
        raise ValueError(
            f"name: no distractor {name!r} in the schedule (known: {known})"
        ) from None


def length_at(schedule: Schedule, name: str, t_days: float, *, continuous: bool = False) -> float:
    """Distraction length of one distractor at time ``t_days``, mm.

    Parameters
    ----------
    schedule : Schedule
    name : str
        Distractor name.
    t_days : float
        Days since surgery (00:00 on the day of surgery).
    continuous : bool
        False: the step function of the activations done by ``t_days`` (an activation at
        exactly ``t_days`` counts as done). True: piecewise linear through the length
        after each activation, ramping up from 0 over the interval before the first one,
        for smooth animation; equal to the step function at every activation time.
    """
    plan = _plan(schedule, name)
    if not math.isfinite(t_days):
        raise ValueError(f"t_days must be finite, got {t_days!r}")
    interval = 1.0 / schedule.protocol.activations_per_day
    first = schedule.first_activation_days
    n, step = plan.n_activations, plan.step_mm
    if continuous:
        k = (t_days - first) / interval + 1.0  # activations done, as a real number
        if k <= 0:
            return 0.0
        if k >= n:
            return plan.planned_mm
        whole = math.floor(k)
        done = whole * step
        this = step if whole + 1 < n else plan.planned_mm - (n - 1) * step
        return done + (k - whole) * this
    k = math.floor((t_days - first) / interval + 1e-9) + 1
    if k <= 0:
        return 0.0
    if k >= n:
        return plan.planned_mm
    return k * step


def schedule_rows(schedule: Schedule) -> list[dict[str, str]]:
    """Rows for a terminal table: one per activation, values as display strings.

    Keys: ``#``, ``day``, ``time`` (date and clock time, or days since surgery without a
    start date), ``distractor``, ``turns``, ``mm``, ``total mm``.
    """
    rows = []
    for a in schedule.activations:
        time = a.when.strftime("%Y-%m-%d %H:%M") if a.when else f"t = {a.time_days:.2f} d"
        rows.append(
            {
                "#": str(a.index),
                "day": str(a.day),
                "time": time,
                "distractor": a.distractor,
                "turns": format_turns(a.turns),
                "mm": format_mm(a.mm),
                "total mm": format_mm(a.cumulative_mm),
            }
        )
    return rows
