import json

from planner.cli.main import main
from planner.plan.case import SCHEMA_VERSION, load_case


def new_case(tmp_path):
    protocol = {
        "latency_days": 1,
        "rate_mm_per_day": 1,
        "activations_per_day": 2,
        "consolidation_days": 56,
    }
    data = {"schema_version": SCHEMA_VERSION, "protocol": protocol}
    (tmp_path / "case.json").write_text(json.dumps(data))
    return str(tmp_path)


def test_edit_plan_by_numbers(tmp_path, capsys):
    case_dir = new_case(tmp_path)
    args = ["--center", "30", "10", "-20", "--normal", "0", "0", "1", "--size", "30", "20"]
    assert main(["osteotomy", "add", case_dir, "--name", "ramus_left", *args]) == 0
    assert main(["osteotomy", "set", case_dir, "--name", "ramus_left", "--kerf", "1.5"]) == 0
    distractor = [
        "--device",
        "linear-20",
        "--fixed",
        "30",
        "10",
        "-10",
        "--moving",
        "30",
        "5",
        "-30",
        "--vector",
        "0",
        "-1",
        "0",
        "--target",
        "15",
    ]
    assert main(["distractor", "add", case_dir, "--name", "left", *distractor]) == 0
    assert main(["protocol", case_dir, "--rate", "0.5", "--activations", "4"]) == 0
    assert main(["landmark", case_dir, "--name", "chin", "--at", "0", "-40", "-50"]) == 0
    case = load_case(case_dir)
    assert case.osteotomy("ramus_left").kerf_mm == 1.5
    assert case.distractor("left").target_mm == 15
    assert case.protocol.rate_mm_per_day == 0.5
    assert case.protocol.activations_per_day == 4
    assert case.landmarks_mm["chin"] == (0.0, -40.0, -50.0)
    assert main(["osteotomy", "list", case_dir]) == 0
    assert "ramus_left" in capsys.readouterr().out
    assert main(["distractor", "remove", case_dir, "--name", "left"]) == 0
    assert load_case(case_dir).distractors == ()


def test_bad_edits_exit_2_and_leave_the_case_alone(tmp_path, capsys):
    case_dir = new_case(tmp_path)
    before = (tmp_path / "case.json").read_text()
    bad = [
        [
            "osteotomy",
            "add",
            case_dir,
            "--name",
            "a",
            "--center",
            "0",
            "0",
            "0",
            "--normal",
            "0",
            "0",
            "0",
            "--size",
            "10",
            "10",
        ],
        ["osteotomy", "set", case_dir, "--name", "missing", "--kerf", "1"],
        ["protocol", case_dir, "--rate", "0"],
        ["protocol", case_dir, "--rate", "-1"],
        ["distractor", "add", case_dir, "--name", "d", "--device", "nope"],
        ["protocol", str(tmp_path / "nowhere"), "--rate", "1"],
    ]
    for argv in bad:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error:") and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "case.json").read_text() == before
    # nothing half-written (the lock file of the edits is all there is besides)
    assert sorted(p.name for p in tmp_path.iterdir()) in (
        ["case.json"],
        [".case.json.lock", "case.json"],
    )
