import json

import numpy as np
import pytest

from planner.errors import PlannerError
from planner.plan.case import (
    SCHEMA_VERSION,
    case_from_dict,
    case_to_dict,
    edit_item,
    load_case,
    save_case,
)
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
        "protocol": {"latency_days": 1, "start_date": "2026-12-01"},
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
    assert case.protocol.rate_mm_per_day == 1.0  # default


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
