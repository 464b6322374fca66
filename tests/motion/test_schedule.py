import csv
import datetime as dt
import math

import icalendar
import pytest

from planner.errors import PlannerError
from planner.motion.calendar import CSV_COLUMNS, write_csv, write_ics
from planner.motion.schedule import (
    format_turns,
    length_at,
    make_schedule,
    schedule_rows,
)
from planner.plan.case import CaseError, Device, Distractor, Protocol
from planner.plan.devices import device_catalog

CATALOG = device_catalog()


def distractor(name="left", device="linear-20", target=15.0, x=30.0):
    return Distractor(
        name=name,
        device=device,
        fixed_point_mm=(x, 10.0, -10.0),
        moving_point_mm=(x, 0.0, -30.0),
        vector=(0.0, -1.0, 0.0),
        target_mm=target,
    )


def protocol(**kw):
    base = dict(latency_days=1.0, rate_mm_per_day=1.0, activations_per_day=2)
    return Protocol(**{**base, **kw})


def test_reference_schedule_1mm_a_day_in_two_steps_to_15mm():
    s = make_schedule([distractor()], CATALOG, protocol())
    acts = s.activations
    assert len(acts) == 30
    assert s.warnings == ()
    # first turn: the first 08:00 at or after latency (1 day after surgery at 00:00)
    assert s.first_activation_days == pytest.approx(1 + 8 / 24)
    assert [a.time_days for a in acts] == pytest.approx([1 + 8 / 24 + k / 2 for k in range(30)])
    assert all(a.mm == pytest.approx(0.5) and a.turns == pytest.approx(1.0) for a in acts)
    assert [a.cumulative_mm for a in acts] == pytest.approx([0.5 * k for k in range(1, 31)])
    assert acts[-1].cumulative_mm == 15.0
    assert [a.index for a in acts] == list(range(1, 31))
    plan = s.plans["left"]
    assert plan.partial_last_mm is None
    # Target reached = time of the last activation: day 1 + 15 distraction days, i.e. the
    # evening (20:00) of calendar day 15 (surgery day = day 0), the 15th day of turning;
    # day 16 = 1 + 15 is the first day of consolidation.
    assert plan.day_target_reached == pytest.approx(1 + 15 - 1 + 20 / 24)
    assert acts[-1].day == 15 and acts[0].day == 1
    assert s.distraction_days == 15.0
    assert s.end_of_distraction_days == plan.day_target_reached
    assert s.end_of_consolidation_days == pytest.approx(plan.day_target_reached + 56)
    assert s.removal_days == s.end_of_consolidation_days
    assert all(a.when is None for a in acts)


def test_wall_clock_times_with_a_start_date():
    s = make_schedule([distractor()], CATALOG, protocol(start_date="2026-12-01"))
    assert s.surgery == dt.datetime(2026, 12, 1, 0, 0)
    assert s.activations[0].when == dt.datetime(2026, 12, 2, 8, 0)
    assert s.activations[1].when == dt.datetime(2026, 12, 2, 20, 0)
    assert s.plans["left"].when_target_reached == dt.datetime(2026, 12, 16, 20, 0)
    assert s.when(s.end_of_consolidation_days) == dt.datetime(2027, 2, 10, 20, 0)


@pytest.mark.parametrize(
    ("latency", "clock", "first"),
    [
        (0.0, "08:00", 8 / 24),
        (1.0, "00:00", 1.0),
        (5.5, "08:00", 6 + 8 / 24),
        (1.3, "09:30", 1 + 9.5 / 24),
        (1.5, "09:30", 2 + 9.5 / 24),
    ],
)
def test_first_activation_is_first_clock_time_after_latency(latency, clock, first):
    s = make_schedule(
        [distractor()], CATALOG, protocol(latency_days=latency, first_activation_time=clock)
    )
    assert s.first_activation_days == pytest.approx(first)


def test_target_beyond_stroke_is_refused_by_the_case_rule():
    # the case model owns the rule: the schedule refuses what 'check' refuses, same words
    with pytest.raises(CaseError) as info:
        make_schedule([distractor(target=25.0)], CATALOG, protocol())
    assert str(info.value) == (
        "distractors[0].target_mm is 25 mm, beyond the stroke of device 'linear-20' (20 mm); "
        "choose a longer device or a shorter target"
    )


def test_partial_last_activation():
    s = make_schedule([distractor(target=15.2)], CATALOG, protocol())
    acts = s.activations
    assert len(acts) == 31
    assert acts[-1].mm == pytest.approx(0.2)
    assert acts[-1].turns == pytest.approx(0.4)
    assert acts[-1].cumulative_mm == pytest.approx(15.2)
    assert s.plans["left"].partial_last_mm == pytest.approx(0.2)
    assert any("partial" in w and "0.2 mm" in w for w in s.warnings)


def test_bilateral_distractors_share_times_and_stop_at_their_own_target():
    left = distractor("left", "linear-20", 15.0, 30.0)
    right = distractor("right", "linear-25", 12.0, -30.0)  # another device is fine
    s = make_schedule([left, right], CATALOG, protocol())
    assert len(s.activations) == 30 + 24
    # same moments; left listed first at each moment
    assert [a.distractor for a in s.activations[:4]] == ["left", "right", "left", "right"]
    assert s.activations[0].time_days == s.activations[1].time_days
    assert s.plans["right"].day_target_reached == pytest.approx(1 + 8 / 24 + 23 / 2)
    assert s.end_of_distraction_days == s.plans["left"].day_target_reached
    assert [a.number for a in s.activations if a.distractor == "right"] == list(range(1, 25))


def test_length_at_step_and_continuous():
    s = make_schedule([distractor(target=15.2)], CATALOG, protocol())
    first = s.first_activation_days
    assert length_at(s, "left", 0.0) == 0.0
    assert length_at(s, "left", first - 1e-6) == 0.0
    assert length_at(s, "left", first) == 0.5  # a turn at exactly t is done
    assert length_at(s, "left", first + 0.49) == 0.5
    assert length_at(s, "left", 100.0) == pytest.approx(15.2)
    for a in s.activations:
        assert length_at(s, "left", a.time_days) == pytest.approx(a.cumulative_mm, abs=1e-12)
        assert length_at(s, "left", a.time_days, continuous=True) == pytest.approx(
            a.cumulative_mm, abs=1e-12
        )
    # halfway between activations k and k+1: halfway between their lengths
    t = first + 3 * 0.5 + 0.25
    assert length_at(s, "left", t, continuous=True) == pytest.approx(2.0 + 0.25)
    # the ramp before the first turn, and the partial last step
    assert length_at(s, "left", first - 0.25, continuous=True) == pytest.approx(0.25)
    assert length_at(s, "left", first - 0.6, continuous=True) == 0.0
    last = s.activations[-1].time_days
    assert length_at(s, "left", last - 0.25, continuous=True) == pytest.approx(15.1)
    with pytest.raises(ValueError, match="no distractor 'nope'"):
        length_at(s, "nope", 1.0)


@pytest.mark.parametrize(
    ("kw", "target", "device", "expected"),
    [
        (dict(rate_mm_per_day=3.0), 15.0, "linear-20", "outside the usual 0.5-2 mm/day"),
        (dict(rate_mm_per_day=0.4, activations_per_day=1), 15.0, "linear-20", "0.5-2 mm/day"),
        (dict(latency_days=10.0), 15.0, "linear-20", "latency 10 days"),
        (dict(activations_per_day=1), 15.0, "linear-20", "1 activation(s) a day"),
        (dict(activations_per_day=3), 15.0, "linear-20", "not a whole number of 1/4 turns"),
        (
            dict(rate_mm_per_day=0.5, activations_per_day=8),
            15.0,
            "linear-20",
            "less than 1/4 turn",
        ),
        (dict(consolidation_days=30.0), 15.0, "linear-20", "usual minimum of 42 days"),
        (dict(), 30.0, "linear-30", "about 2x the distraction period (2 x 30 = 60 days)"),
        (dict(consolidation_days=70.0), 35.0, "linear-35", "outside the usual 10-30 mm"),
    ],
)
def test_protocol_warnings(kw, target, device, expected):
    s = make_schedule([distractor(device=device, target=target)], CATALOG, protocol(**kw))
    assert any(expected in w for w in s.warnings), s.warnings
    assert all("\n" not in w for w in s.warnings)


def test_quarter_turns_are_fine():
    s = make_schedule(
        [distractor()],
        CATALOG,
        protocol(rate_mm_per_day=0.5, activations_per_day=4, consolidation_days=60),
    )
    assert s.plans["left"].turns_per_activation == pytest.approx(0.25)
    assert s.warnings == ()


@pytest.mark.parametrize(
    ("dists", "prot", "match"),
    [
        ([], protocol(), "no distractors"),
        (
            [distractor(device="nope")],
            protocol(),
            r"distractors\[0\].device is 'nope'; known devices",
        ),
        ([distractor(), distractor()], protocol(), "names must differ"),
        ([distractor()], protocol(rate_mm_per_day=0.0), "rate_mm_per_day is 0"),
        ([distractor()], protocol(activations_per_day=0), "activations_per_day"),
        ([distractor()], protocol(start_date="1 Dec"), "start_date"),
        ([distractor()], protocol(first_activation_time="8am"), "first_activation_time"),
    ],
)
def test_bad_inputs(dists, prot, match):
    with pytest.raises(PlannerError, match=match):
        make_schedule(dists, CATALOG, prot)


def test_custom_pitch_device():
    cat = {**CATALOG, "fine": Device("fine", "linear", 20.0, 0.25)}
    s = make_schedule([distractor(device="fine")], cat, protocol())
    assert s.activations[0].turns == pytest.approx(2.0)
    assert schedule_rows(s)[0]["turns"] == "2 turns"


@pytest.mark.parametrize(
    ("turns", "text"),
    [
        (1, "1 turn"),
        (0.5, "1/2 turn"),
        (0.25, "1/4 turn"),
        (1.25, "1 1/4 turns"),
        (2, "2 turns"),
        (0.4, "0.40 turn"),
        (1.5001, "1.50 turns"),
    ],
)
def test_format_turns(turns, text):
    assert format_turns(turns) == text


def test_ics_round_trip(tmp_path):
    left = distractor("left", target=15.0)
    right = distractor("right", target=12.0, x=-30.0)
    s = make_schedule([left, right], CATALOG, protocol(start_date="2026-12-01"))
    stamp = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    path = write_ics(s, tmp_path / "schedule.ics", label="case A", dtstamp=stamp)
    raw = path.read_bytes()
    # RFC 5545: CRLF line endings, lines of at most 75 octets
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines)
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-1] == b"END:VCALENDAR"
    assert b"VERSION:2.0" in lines
    assert any(line.startswith(b"PRODID:") for line in lines)

    cal = icalendar.Calendar.from_ical(raw)
    events = cal.walk("VEVENT")
    assert len(events) == 30 + 24 + 2
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    assert all(e.decoded("DTSTAMP") == stamp for e in events)
    turns = [e for e in events if str(e["SUMMARY"]).startswith("Turn ")]
    assert len(turns) == 54
    seventh_left = [e for e in turns if "left" in str(e["SUMMARY"])][6]
    assert str(seventh_left["SUMMARY"]) == "Turn left distractor 1 turn (0.5 mm) — total 3.5 mm"
    assert seventh_left.decoded("DTSTART") == dt.datetime(2026, 12, 5, 8, 0)
    assert turns[0].decoded("DTSTART") == dt.datetime(2026, 12, 2, 8, 0)
    ends = {str(e["SUMMARY"]): e.decoded("DTSTART") for e in events if e not in turns}
    assert ends["End of distraction"] == dt.date(2026, 12, 16)
    assert ends["End of consolidation: device removal can be planned"] == dt.date(2027, 2, 10)
    # rebuilt file: same UIDs (re-import updates instead of duplicating)
    again = write_ics(s, tmp_path / "again.ics", label="case A", dtstamp=stamp)
    assert again.read_bytes() == raw
    assert not list(tmp_path.glob(".*part"))


def test_ics_needs_a_start_date(tmp_path):
    s = make_schedule([distractor()], CATALOG, protocol())
    with pytest.raises(PlannerError, match=r"^protocol.start_date is not set; set it to export"):
        write_ics(s, tmp_path / "x.ics", label="a")
    assert not (tmp_path / "x.ics").exists()


def test_csv_columns_and_values(tmp_path):
    s = make_schedule([distractor(target=15.2)], CATALOG, protocol(start_date="2026-12-01"))
    path = write_csv(s, tmp_path / "out" / "schedule.csv")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 31
    assert rows[0]["datetime"] == "2026-12-02T08:00"
    assert float(rows[-1]["cumulative_mm"]) == pytest.approx(15.2)
    assert float(rows[-1]["mm"]) == pytest.approx(0.2)
    assert sum(float(r["mm"]) for r in rows) == pytest.approx(15.2)
    assert math.isclose(float(rows[2]["time_days"]), 1 + 8 / 24 + 1.0, abs_tol=1e-6)
    assert rows[0]["device"] == "linear-20"


def test_schedule_rows():
    s = make_schedule([distractor()], CATALOG, protocol())
    rows = schedule_rows(s)
    assert len(rows) == 30
    assert list(rows[0]) == ["#", "day", "time", "distractor", "turns", "mm", "total mm"]
    assert rows[6] == {
        "#": "7",
        "day": "4",
        "time": "t = 4.33 d",
        "distractor": "left",
        "turns": "1 turn",
        "mm": "0.5",
        "total mm": "3.5",
    }
