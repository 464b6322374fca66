"""Shared CLI pieces: progress you can trust, literal text, the source path as typed."""

import io
import os

from rich.console import Console

from planner.cli.common import Progress, quote, show
from planner.cli.scan import source_path


def piped_console():
    return Console(file=io.StringIO(), width=100)  # not a terminal


def test_piped_progress_prints_plain_lines_that_finish():
    console = piped_console()
    with Progress(console, every_s=3600) as progress:
        for k in range(141):
            progress("reading slices", k, 140)
        progress("collision sweep", 0, 1)
        progress("collision sweep", 1, 1)
        progress("collision sweep", 1, 1)  # a repeated "done" prints once
    lines = console.file.getvalue().splitlines()
    assert lines[0] == "reading slices ..."
    assert lines[1].startswith("reading slices 140/140 done in ")
    assert lines[2] == "collision sweep ..."
    assert lines[3].startswith("collision sweep 1/1 done in ")
    assert len(lines) == 4


def test_piped_progress_is_throttled_but_not_silent():
    console = piped_console()
    with Progress(console, every_s=0.0) as progress:
        for k in range(5):
            progress("meshing", k, 10)
    lines = console.file.getvalue().splitlines()
    assert lines == ["meshing ...", *(f"meshing {k}/10 (0 s)" for k in range(1, 5))]


def test_text_is_shown_literally():
    console = piped_console()
    console.print(f"name {quote('[/x]')} value {show([float('nan'), 0.0])} {show('[bold]x[/]')}")
    assert console.file.getvalue() == "name '[/x]' value [nan, 0.0] [bold]x[/]\n"


def test_source_path_is_kept_as_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    case = tmp_path / "case"
    (case / "scan").mkdir(parents=True)
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert source_path([case / "scan"], case) == "scan"  # inside the case: relative
    assert source_path([os.path.relpath(case / "scan")], "case") == "scan"
    assert source_path([tmp_path / "link"], case) == str(tmp_path / "link")  # not resolved
    files = [tmp_path / "link" / "a.dcm", tmp_path / "link" / "b.dcm"]
    assert source_path(files, case) == str(tmp_path / "link")
