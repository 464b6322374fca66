"""planner animate / pose: outputs, and one clear line with exit 2 for bad input."""

import os

import pytest

from planner.cli.main import main
from tests.render.cases import needs_rendering, write_case_dir


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    return write_case_dir(tmp_path_factory.mktemp("case") / "bar")


def error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    return err[0]


def test_animate_writes_the_clip_and_stills(case_dir, tmp_path, capsys):
    needs_rendering()
    out = tmp_path / "pictures"
    argv = ["animate", str(case_dir), "--view", "left", "--fps", "5", "--seconds", "1"]
    assert main([*argv, "--size", "320x240", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "before_after_left.png",
        "displacement_left.png",
        "distraction_left.gif",
        "distraction_left.mp4",
    ]
    assert "5 frames, 320x240, view left" in capsys.readouterr().out


def test_pose_writes_every_segment(case_dir, tmp_path, capsys):
    assert main(["pose", str(case_dir), "--day", "3", "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mandible_fixed_d_day3.stl",
        "mandible_moving_d_day3.stl",
        "skull_day3.stl",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["animate", "{case}", "--view", "sideways"], "unknown view 'sideways'"),
        (["animate", "{case}", "--size", "big"], "is not WIDTHxHEIGHT"),
        (["pose", "{case}", "--day", "40", "-o", "{tmp}"], "day 40 is outside the treatment"),
        (["pose", "{case}", "--day", "-1", "-o", "{tmp}"], "day -1 is outside the treatment"),
        (["animate", "{case}", "-o", "{tmp}/file.txt/x"], "cannot write to"),
        (["animate", "{still}"], "no distraction to show"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, case_dir, tmp_path, capsys):
    still = write_case_dir(tmp_path / "still", distractors=False)
    (tmp_path / "file.txt").write_text("not a folder")
    values = {"case": str(case_dir), "tmp": str(tmp_path), "still": str(still)}
    assert main([a.format(**values) for a in argv]) == 2
    assert message in error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_read_only_output_folder(case_dir, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["pose", str(case_dir), "--day", "1", "-o", str(locked)]) == 2
    assert "cannot write to" in error_line(capsys)
