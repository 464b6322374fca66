"""``planner view``: the one-line refusals and the off-screen screenshot."""

from __future__ import annotations

import numpy as np
import pytest

from planner.cli.main import main
from tests.view.boxcase import write_box_case
from tests.view.scene import require_offscreen


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(" ".join(lines)) < 400
    return " ".join(lines)


def test_no_display_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    write_box_case(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["view", str(tmp_path)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "no display" in err and "xvfb-run" in err and "--screenshot" in err


def test_an_unreachable_display_is_refused_too(tmp_path, monkeypatch, capsys):
    write_box_case(tmp_path)
    monkeypatch.setenv("DISPLAY", ":9876")  # nothing listens there
    assert main(["view", str(tmp_path)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "cannot open display ':9876'" in err or "no X11 library" in err


def test_a_case_without_models_is_one_line(tmp_path, monkeypatch, capsys):
    write_box_case(tmp_path, models=False)
    monkeypatch.setattr("planner.view.app.display_problem", lambda: None)
    assert main(["view", str(tmp_path)]) == 2
    assert "has no models" in _one_line(capsys.readouterr().err)
    assert main(["view", str(tmp_path), "--screenshot", str(tmp_path / "a.png")]) == 2
    assert "has no models" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "a.png").exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--view", "sideways"], "unknown view 'sideways'"),
        (["--day", "3"], "--day and --size go with --screenshot"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, extra, words):
    write_box_case(tmp_path)
    assert main(["view", str(tmp_path), *extra]) == 2
    assert words in _one_line(capsys.readouterr().err)


def test_screenshot_renders_the_plan_off_screen(tmp_path, capsys):
    require_offscreen()
    from PIL import Image

    case_dir = write_box_case(tmp_path / "case")
    png = tmp_path / "shot.png"
    args = ["view", str(case_dir), "--screenshot", str(png), "--day", "5", "--view", "top"]
    assert main([*args, "--size", "320x240"]) == 0
    assert "wrote" in capsys.readouterr().out
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert img.shape == (240, 320, 3)
    r, b = img[..., 0], img[..., 2]
    assert ((r > 120) & (r - b > 8)).mean() > 0.02  # bone-coloured pixels
    assert main([*args[:-4], "--day", "400"]) == 2  # outside the treatment
    assert "day" in capsys.readouterr().err
