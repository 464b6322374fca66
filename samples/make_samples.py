"""Write the ready example cases in this folder from the synthetic head's ground truth.

Run from the project root: ``python samples/make_samples.py``. Each case is a plain
``case.json`` (the surgeon's decisions only), planned on the built-in synthetic infant head:
``planner demo OUT_DIR --case samples/NAME/case.json`` makes the sample CT, the models and
every output for it. A test checks that the files here are what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
START_DATE = "2027-01-11"  # a fixed date, so the calendar files do not change from day to day


def bilateral_mandible() -> dict:
    """The demo's plan: two ramus osteotomies, two linear devices, 18 mm at 1 mm/day."""
    from planner.pipeline.demo import demo_case
    from planner.plan.case import case_to_dict
    from planner.samples import head_truth

    case = demo_case(head_truth(), source_path="../dicom", series_uid="", threshold_hu=300.5)
    data = case_to_dict(case)
    data["protocol"]["start_date"] = START_DATE
    return data


def hfm_curvilinear() -> dict:
    """One-sided ramus lengthening, as for hemifacial microsomia of the right side.

    One osteotomy across the right ramus, cut perpendicular to the vector; one curvilinear
    device (40 mm track) lengthening the ramus downward and forward by 15 mm, its track
    curving forward. The rest of the mandible moves; the left condyle on it is held in its
    joint and the mandible turns about it.
    """
    data = bilateral_mandible()
    right = next(o for o in data["osteotomies"] if o["name"] == "ramus_right")
    centre = np.asarray(right["center_mm"], dtype=float)
    vector = np.array([0.0, -0.5, -np.sqrt(3.0) / 2.0])  # 30 degrees forward of straight down
    side = np.array([-3.0, 0.0, 0.0])  # footplates on the lateral face of the right ramus
    data["label"] = "synthetic sample: one-sided curvilinear ramus distraction (HFM)"
    data["osteotomies"] = [
        {
            "name": "ramus_right",
            "center_mm": centre.tolist(),
            "normal": vector.tolist(),
            "size_mm": [30.0, 16.0],
            "in_plane_axis": [0.0, 1.0, 0.0],
            "kerf_mm": 1.0,
        }
    ]
    data["distractors"] = [
        {
            "name": "right",
            "device": "curvilinear-20-r40",
            "fixed_point_mm": (centre - 7.0 * vector + side).tolist(),
            "moving_point_mm": (centre + 7.0 * vector + side).tolist(),
            "vector": vector.tolist(),
            "target_mm": 15.0,
            "curve_toward": [0.0, -1.0, 0.0],
        }
    ]
    data["guides"] = [
        dict(g, distractor="right")
        for g in data.get("guides", [])
        if g["osteotomy"] == "ramus_right"
    ]
    data["protocol"].update(latency_days=5.0, rate_mm_per_day=1.0, activations_per_day=2)
    data["protocol"]["consolidation_days"] = 56.0
    return data


CASES = {"bilateral-mandible": bilateral_mandible, "hfm-curvilinear": hfm_curvilinear}


def render(data: dict) -> str:
    """The text of a case file as the project writes it."""
    from planner.plan.case import case_from_dict, case_to_dict, readable_json

    return readable_json(case_to_dict(case_from_dict(data)))


def main() -> int:
    for name, make in CASES.items():
        path = HERE / name / "case.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(render(make()), encoding="utf-8")
        sys.stdout.write(f"wrote {path.relative_to(HERE.parent)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
