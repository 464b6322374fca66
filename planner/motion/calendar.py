"""Schedule exports: CSV for spreadsheets, iCalendar for phones (written atomically)."""

from __future__ import annotations

import csv
import datetime as dt
import math
import uuid
from pathlib import Path

from planner.errors import PlannerError
from planner.fileio import atomic_path
from planner.motion.schedule import Schedule, format_mm, format_turns

__all__ = ["CSV_COLUMNS", "write_csv", "write_ics"]

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
            f"Turn {a.distractor} distractor {format_turns(a.turns)} ({format_mm(a.mm)} mm)"
            f" — total {format_mm(a.cumulative_mm)} mm",
        )
        event.add(
            "description",
            f"{label + ': ' if label else ''}activation {a.number} of {plan.n_activations}"
            f" of the {a.distractor} distractor ({plan.device.name});"
            f" planned length {format_mm(plan.planned_mm)} mm. {note}",
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
