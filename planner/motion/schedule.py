"""The turn schedule: every activation of every distractor, and its exports.

Time is counted in days since surgery: ``t = 0`` is 00:00 (local wall-clock time, no time
zone) on the day of surgery, ``protocol.start_date``; day ``k`` is the ``k``-th calendar day
after surgery (the day of surgery is day 0). The distractors of one case share the
protocol: all are turned at the same moments.

Timing rule
    After the latency, the first activation is at the first ``first_activation_time``
    at or after ``t = latency_days`` (latency 1 day, 08:00 -> ``t = 1 + 8/24``); then one
    activation every ``24 / activations_per_day`` hours, each of
    ``rate_mm_per_day / activations_per_day`` mm, until the planned length (the target,
    or the device's stroke if that is shorter). The last activation is partial when the
    planned length is not a whole number of steps.
Milestones
    ``day_target_reached`` of a distractor is the time of its last activation; the end
    of distraction is the latest of these; the end of consolidation is the end of
    distraction plus ``consolidation_days``; the device removal estimate is the end of
    consolidation (the earliest the devices can come out).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import PlannerError
from planner.fileio import atomic_path
from planner.plan.case import Device, Distractor, Protocol

__all__ = [
    "Activation",
    "DistractorPlan",
    "ProtocolLimits",
    "Schedule",
    "format_turns",
    "length_at",
    "make_schedule",
    "schedule_rows",
    "write_csv",
    "write_ics",
]

_EPS = 1e-9
CSV_COLUMNS = (
    "index",
    "number",
    "distractor",
    "device",
    "day",
    "time_days",
    "datetime",
    "turns",
    "mm",
    "cumulative_mm",
)


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

    ``planned_mm`` is the target, or the device's stroke when the target exceeds it.
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
    if not protocol.rate_mm_per_day > 0:
        raise PlannerError(
            f"protocol.rate_mm_per_day is {protocol.rate_mm_per_day:g}; it must be > 0"
        )
    if int(protocol.activations_per_day) != protocol.activations_per_day or not (
        protocol.activations_per_day >= 1
    ):
        raise PlannerError(
            f"protocol.activations_per_day is {protocol.activations_per_day!r};"
            " it must be a whole number >= 1"
        )
    if protocol.latency_days < 0 or protocol.consolidation_days < 0:
        raise PlannerError("protocol.latency_days and consolidation_days must be >= 0")
    try:
        clock = dt.time.fromisoformat(protocol.first_activation_time)
    except ValueError:
        raise PlannerError(
            f"protocol.first_activation_time is {protocol.first_activation_time!r}; use HH:MM"
        ) from None
    surgery = None
    if protocol.start_date:
        try:
            surgery = dt.datetime.combine(dt.date.fromisoformat(protocol.start_date), dt.time())
        except ValueError:
            raise PlannerError(
                f"protocol.start_date is {protocol.start_date!r}; use an ISO date like 2026-12-01"
            ) from None
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
        With one-line ``warnings`` for a target beyond the stroke (the schedule stops at
        the stroke), a partial last activation and protocol values outside the usual
        ranges.

    Raises
    ------
    PlannerError
        No distractors, a device not in the catalog, duplicate names, bad protocol values.
    """
    limits = ProtocolLimits() if limits is None else limits
    surgery, tod = _check_protocol(protocol)
    distractors = tuple(distractors)
    if not distractors:
        raise PlannerError("the case has no distractors; add one with 'planner distractor add'")
    names = [d.name for d in distractors]
    if len(set(names)) != len(names):
        raise PlannerError(f"distractor names must differ; got {', '.join(names)}")
    apd = int(protocol.activations_per_day)
    step = protocol.rate_mm_per_day / apd
    interval = 1.0 / apd
    first = tod + math.ceil(protocol.latency_days - tod - _EPS)
    warnings: list[str] = []

    plans: dict[str, DistractorPlan] = {}
    rows: list[tuple[float, int, int, str, float, float, float]] = []
    for order, d in enumerate(distractors):
        if d.device not in catalog:
            known = ", ".join(catalog) or "none"
            raise PlannerError(
                f"distractor {d.name!r} uses device {d.device!r}, not in the catalog (known: {known})"
            )
        device = catalog[d.device]
        planned = float(d.target_mm)
        if planned > device.stroke_mm + _EPS:
            warnings.append(
                f"distractor {d.name!r}: target {_mm(planned)} mm exceeds the stroke of"
                f" {device.name!r} ({_mm(device.stroke_mm)} mm); the schedule stops at the stroke"
            )
            planned = float(device.stroke_mm)
        n = max(1, math.ceil(planned / step - 1e-9))
        last = planned - (n - 1) * step
        partial = None if abs(last - step) <= 1e-9 * max(1.0, step) else last
        if partial is not None:
            warnings.append(
                f"distractor {d.name!r}: the last activation is partial, {_mm(last)} mm"
                f" ({format_turns(last / device.mm_per_turn)}), because {_mm(planned)} mm"
                f" is not a multiple of {_mm(step)} mm"
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
            f"rate {_mm(p.rate_mm_per_day)} mm/day is outside the usual {_mm(lo)}-{_mm(hi)} mm/day"
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
                f" ({_mm(plan.step_mm)} mm), less than {format_turns(frac)}: hard to turn accurately"
            )
        elif abs(turns / frac - round(turns / frac)) > 1e-6:
            out.append(
                f"each activation of {plan.device.name!r} is {format_turns(turns)}"
                f" ({_mm(plan.step_mm)} mm at {_mm(plan.device.mm_per_turn)} mm per turn),"
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
                f"distractor {plan.distractor.name!r}: target {_mm(plan.target_mm)} mm is outside"
                f" the usual {_mm(lo)}-{_mm(hi)} mm for craniofacial distraction"
            )
    return out


def _when(surgery: dt.datetime | None, t_days: float) -> dt.datetime | None:
    if surgery is None:
        return None
    return surgery + dt.timedelta(seconds=round(t_days * 86400.0))


def _mm(value: float) -> str:
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
                "mm": _mm(a.mm),
                "total mm": _mm(a.cumulative_mm),
            }
        )
    return rows


def write_csv(schedule: Schedule, path: str | Path) -> Path:
    """Write every activation as CSV (columns :data:`CSV_COLUMNS`), atomically.

    ``datetime`` is ISO local time (empty without a start date); lengths in mm, times in
    days since surgery.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            for a in schedule.activations:
                writer.writerow(
                    [
                        a.index,
                        a.number,
                        a.distractor,
                        schedule.plans[a.distractor].device.name,
                        a.day,
                        f"{a.time_days:.6f}",
                        a.when.isoformat(timespec="minutes") if a.when else "",
                        f"{a.turns:.4f}",
                        f"{a.mm:.4f}",
                        f"{a.cumulative_mm:.4f}",
                    ]
                )
    return path


def write_ics(
    schedule: Schedule,
    path: str | Path,
    *,
    label: str,
    dtstamp: dt.datetime | None = None,
    event_minutes: int = 10,
) -> Path:
    """Write the schedule as an iCalendar file (RFC 5545) that imports into a phone calendar.

    One VEVENT per activation ("Turn left distractor 1 turn (0.5 mm) — total 3.5 mm",
    ``event_minutes`` long, floating local time), plus all-day events for the end of
    distraction and the end of consolidation. UIDs are derived from the label, start date,
    distractor and activation number, so importing a rebuilt file updates the events
    rather than duplicating them (give different cases different labels).

    Parameters
    ----------
    label : str
        The case label the user gave (the only identifying text written).
    dtstamp : datetime, optional
        Creation stamp (UTC); default now.

    Raises
    ------
    PlannerError
        If ``protocol.start_date`` is not set.
    """
    import icalendar

    if schedule.surgery is None:
        raise PlannerError("protocol.start_date is not set; set it to export a calendar")
    stamp = dtstamp or dt.datetime.now(dt.UTC).replace(microsecond=0)
    if stamp.tzinfo is None:
        raise ValueError("dtstamp must be timezone-aware (UTC)")
    stamp = stamp.astimezone(dt.UTC)
    label = label.strip()
    name = label or "distraction"
    base = f"planner/{name}/{schedule.protocol.start_date}"

    def uid(key: str) -> str:
        return f"{uuid.uuid5(uuid.NAMESPACE_URL, f'{base}/{key}')}@planner"

    cal = icalendar.Calendar()
    cal.add("prodid", "-//planner//distraction schedule//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{name}: distraction")
    note = "Planned with planner (research software, not a certified medical device)."
    for a in schedule.activations:
        plan = schedule.plans[a.distractor]
        event = icalendar.Event()
        event.add("uid", uid(f"{a.distractor}/{a.number}"))
        event.add("dtstamp", stamp)
        event.add("dtstart", a.when)
        event.add("dtend", a.when + dt.timedelta(minutes=event_minutes))
        event.add(
            "summary",
            f"Turn {a.distractor} distractor {format_turns(a.turns)} ({_mm(a.mm)} mm)"
            f" — total {_mm(a.cumulative_mm)} mm",
        )
        event.add(
            "description",
            f"{label + ': ' if label else ''}activation {a.number} of {plan.n_activations}"
            f" of the {a.distractor} distractor ({plan.device.name});"
            f" planned length {_mm(plan.planned_mm)} mm. {note}",
        )
        cal.add_component(event)
    milestones = (
        ("end-of-distraction", schedule.end_of_distraction_days, "End of distraction"),
        (
            "end-of-consolidation",
            schedule.end_of_consolidation_days,
            "End of consolidation: device removal can be planned",
        ),
    )
    for key, t, summary in milestones:
        day = schedule.when(t).date()
        event = icalendar.Event()
        event.add("uid", uid(key))
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
        event.add("summary", summary)
        event.add("description", f"{label + ': ' if label else ''}day {math.floor(t)}. {note}")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    data = cal.to_ical()
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
