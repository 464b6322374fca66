import json

import numpy as np
import pytest

from planner.errors import PlannerError
from planner.plan.case import (
    SCHEMA_VERSION,
    CaseError,
    case_from_dict,
    case_to_dict,
    load_case,
    save_case,
)
from planner.plan.case_edit import edit_item
from planner.plan.devices import device_catalog


def plan() -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "label": "test case",
        "source": {"path": "scan", "series_uid": "1.2.3"},
        "segmentation": {"threshold_hu": 300.5},
        "osteotomies": [
            {
                "name": "ramus_left",
                "center_mm": [30.0, 10.0, -20.0],
                "normal": [0.0, 0.0, 2.0],
                "size_mm": [30.0, 20.0],
            }
        ],
        "distractors": [
            {
                "name": "left",
                "device": "linear-20",
                "fixed_point_mm": [30.0, 10.0, -10.0],
                "moving_point_mm": [30.0, 5.0, -30.0],
                "vector": [0.0, -3.0, -1.0],
                "target_mm": 15.0,
            }
        ],
        "protocol": {
            "latency_days": 1,
            "rate_mm_per_day": 1.0,
            "activations_per_day": 2,
            "consolidation_days": 56,
            "start_date": "2026-12-01",
        },
        "landmarks_mm": {"chin": [0.0, -40.0, -50.0]},
    }


def test_round_trip_and_normalised_directions():
    case = case_from_dict(plan())
    assert case_from_dict(json.loads(json.dumps(case_to_dict(case)))) == case
    ost = case.osteotomies[0]
    assert ost.normal == (0.0, 0.0, 1.0)
    # the default in-plane axis lies in the plane, is unit, and points anteriorly for an
    # axial cut (superior is impossible there)
    assert np.dot(ost.in_plane_axis, ost.normal) == pytest.approx(0.0, abs=1e-12)
    assert ost.in_plane_axis == pytest.approx((0.0, -1.0, 0.0))
    assert np.linalg.norm(case.distractors[0].vector) == pytest.approx(1.0)
    assert case.protocol.first_activation_time == "08:00"  # default


def test_save_and_load(tmp_path):
    case = case_from_dict(plan())
    save_case(case, tmp_path)
    assert load_case(tmp_path) == case
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d["osteotomies"][0].update(normal=[0, 0, 0]), "osteotomies[0].normal"),
        (lambda d: d["osteotomies"][0].update(normal=[0, 1]), "osteotomies[0].normal"),
        (lambda d: d["osteotomies"][0].update(kerf_mm=-1), "osteotomies[0].kerf_mm"),
        (lambda d: d["osteotomies"][0].update(size_mm=[0, 5]), "osteotomies[0].size_mm"),
        (lambda d: d["osteotomies"][0].update(in_plane_axis=[0, 0, 1]), "in_plane_axis"),
        (lambda d: d["osteotomies"][0].pop("center_mm"), "osteotomies[0].center_mm"),
        (lambda d: d["osteotomies"][0].update(blade="x"), "osteotomies[0].blade"),
        (lambda d: d["distractors"][0].update(device="nope"), "distractors[0].device"),
        (lambda d: d["distractors"][0].update(target_mm=0), "distractors[0].target_mm"),
        (lambda d: d["distractors"][0].update(vector=[0, 0, 0]), "distractors[0].vector"),
        (lambda d: d["distractors"][0].update(device="curvilinear-20-r40"), "curve_toward"),
        (lambda d: d["protocol"].update(rate_mm_per_day=0), "protocol.rate_mm_per_day"),
        (lambda d: d["protocol"].update(rate_mm_per_day=-1), "protocol.rate_mm_per_day"),
        (lambda d: d["protocol"].update(activations_per_day=1.5), "activations_per_day"),
        (lambda d: d["protocol"].update(start_date="1/12/26"), "protocol.start_date"),
        (lambda d: d["protocol"].update(latency_days="one"), "protocol.latency_days"),
        (lambda d: d["osteotomies"].append(dict(d["osteotomies"][0])), "used twice"),
        (lambda d: d["landmarks_mm"].update(chin=[1, 2]), "landmarks_mm.chin"),
    ],
)
def test_invalid_fields_are_named(change, field):
    data = plan()
    change(data)
    with pytest.raises(PlannerError, match=field.replace("[", r"\[").replace("]", r"\]")):
        case_from_dict(data)


def test_bad_json_and_missing_file(tmp_path):
    with pytest.raises(PlannerError, match="not found"):
        load_case(tmp_path)
    (tmp_path / "case.json").write_text("{ not json")
    with pytest.raises(PlannerError, match="not valid JSON"):
        load_case(tmp_path)


def test_edit_items():
    case = case_from_dict(plan())
    case = edit_item(case, "osteotomy", "ramus_left", {"kerf_mm": 1.5}, mode="set")
    assert case.osteotomy("ramus_left").kerf_mm == 1.5
    case = edit_item(
        case,
        "osteotomy",
        "ramus_right",
        {"center_mm": [-30, 10, -20], "normal": [0, 0, 1], "size_mm": [30, 20]},
        mode="add",
    )
    assert [o.name for o in case.osteotomies] == ["ramus_left", "ramus_right"]
    with pytest.raises(PlannerError, match="exists"):
        edit_item(case, "osteotomy", "ramus_left", {}, mode="add")
    with pytest.raises(PlannerError, match="no distractor called 'right'"):
        edit_item(case, "distractor", "right", {}, mode="remove")
    with pytest.raises(PlannerError, match=r"distractors\[0\].target_mm"):
        edit_item(case, "distractor", "left", {"target_mm": -3}, mode="set")
    case = edit_item(case, "distractor", "left", {}, mode="remove")
    assert case.distractors == ()


def test_case_devices_extend_the_catalog():
    data = plan()
    data["devices"] = [
        {
            "name": "my-curve",
            "kind": "curvilinear",
            "stroke_mm": 25,
            "mm_per_turn": 0.4,
            "track_radius_mm": 50,
        }
    ]
    data["distractors"][0].update(device="my-curve", curve_toward=[0, 0, 1])
    case = case_from_dict(data)
    catalog = device_catalog(case)
    assert catalog["my-curve"].track_radius_mm == 50
    assert "linear-20" in catalog
    bad = plan()
    bad["devices"] = [{"name": "c", "kind": "curvilinear", "stroke_mm": 25, "mm_per_turn": 0.5}]
    with pytest.raises(PlannerError, match=r"devices\[0\].track_radius_mm"):
        case_from_dict(bad)


# --- hostile case files: one PlannerError naming the field, never a crash ----------------


def write_text(tmp_path, text):
    (tmp_path / "case.json").write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
        ('{"schema_version": 1, "label": ' + "[" * 100_000 + "]" * 100_000 + "}", "too deeply"),
        ('{"schema_version": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_hostile_json_is_refused_in_one_line(tmp_path, text, match):
    with pytest.raises(PlannerError, match=match) as info:
        load_case(write_text(tmp_path, text))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_huge_integers_are_refused_not_overflowed():
    data = plan()
    data["distractors"][0]["target_mm"] = 10**400
    data["osteotomies"][0]["center_mm"] = [10**400, 0, 0]
    data["protocol"]["activations_per_day"] = 10**400
    with pytest.raises(CaseError) as info:
        case_from_dict(data)
    text = [str(p) for p in info.value.problems]
    assert any(t.startswith("distractors[0].target_mm must be a number") for t in text), text
    assert any(t.startswith("osteotomies[0].center_mm must be a list of 3") for t in text)
    assert any(t.startswith("protocol.activations_per_day must be a whole") for t in text)
    assert all(len(t) < 200 for t in text)  # a 400-digit number is described, not printed


def test_huge_vectors_are_normalised_safely_and_huge_points_refused():
    data = plan()
    data["distractors"][0]["vector"] = [1e308, 1e308, 0]
    data["osteotomies"][0]["normal"] = [0, 0, 1e-300]
    case = case_from_dict(data)
    assert case.distractors[0].vector == (0.707107, 0.707107, 0.0)
    assert case.osteotomies[0].normal == (0.0, 0.0, 1.0)
    data["distractors"][0]["fixed_point_mm"] = [1e308, 0, 0]
    with pytest.raises(PlannerError, match=r"fixed_point_mm .*within ±100 m"):
        case_from_dict(data)
    data = plan()
    data["distractors"][0]["vector"] = [float("nan"), 0, 0]
    with pytest.raises(PlannerError, match=r"vector must be a list of 3 finite numbers"):
        case_from_dict(data)


def test_schema_version_true_is_refused():
    data = plan()
    data["schema_version"] = True
    with pytest.raises(PlannerError, match="schema_version is true; this planner reads version"):
        case_from_dict(data)


def test_missing_protocol_is_refused_not_defaulted():
    data = plan()
    del data["protocol"]
    with pytest.raises(PlannerError, match=r"^protocol is missing"):
        case_from_dict(data)
    data = plan()
    del data["protocol"]["rate_mm_per_day"]
    with pytest.raises(PlannerError, match=r"^protocol.rate_mm_per_day is missing"):
        case_from_dict(data)


def test_every_problem_is_listed():
    data = plan()
    data["osteotomies"][0]["kerf_mm"] = -1
    data["distractors"][0]["target_mm"] = 30  # beyond the 20 mm stroke
    data["protocol"]["rate_mm_per_day"] = 0
    data["colour"] = "red"
    with pytest.raises(CaseError) as info:
        case_from_dict(data)
    paths = [p.path for p in info.value.problems]
    assert paths == [
        "osteotomies[0].kerf_mm",
        "protocol.rate_mm_per_day",
        "colour",
        "distractors[0].target_mm",
    ]
    assert "(and 3 more problems" in str(info.value)


def test_target_beyond_stroke_is_a_case_rule():
    data = plan()
    data["distractors"][0]["target_mm"] = 25
    with pytest.raises(
        CaseError, match=r"^distractors\[0\].target_mm is 25 mm, beyond the stroke of"
    ):
        case_from_dict(data)


def test_case_json_is_readable_and_reads_back_identical(tmp_path):
    data = plan()
    data["osteotomies"][0]["center_mm"] = [30.123456789, 10 / 3, -20.0004]
    data["distractors"][0]["vector"] = [0.1, -3.0, -1.0]
    case = case_from_dict(data)
    save_case(case, tmp_path)
    text = (tmp_path / "case.json").read_text()
    assert '"center_mm": [30.123, 3.333, -20.0],' in text  # a point on one line
    saved = json.loads(text)
    assert saved["osteotomies"][0]["center_mm"] == [30.123, 3.333, -20.0]
    vector = saved["distractors"][0]["vector"]
    assert vector == [round(v, 6) for v in vector]
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=2e-6)
    again = load_case(tmp_path)
    assert again == case
    save_case(again, tmp_path)
    assert json.loads((tmp_path / "case.json").read_text()) == saved


def test_in_plane_axis_stays_in_the_plane_after_rounding():
    data = plan()
    data["osteotomies"][0]["normal"] = [1, 2, 3]
    data["osteotomies"][0]["in_plane_axis"] = [1, 1, 0]
    ost = case_from_dict(data).osteotomies[0]
    assert abs(np.dot(ost.normal, ost.in_plane_axis)) < 1e-5
    assert case_from_dict(case_to_dict(case_from_dict(data))).osteotomies[0] == ost
