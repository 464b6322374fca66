"""The command line never crashes and never loses an edit.

Every bad input and fault ends in exit status 2, one line on stderr, no traceback, the
case intact and nothing half-written.
"""

import errno
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from planner.cli.main import main
from planner.plan.case import SCHEMA_VERSION, load_case

PROTOCOL = {
    "latency_days": 1,
    "rate_mm_per_day": 1,
    "activations_per_day": 2,
    "consolidation_days": 56,
    "start_date": "2026-12-01",
}
DISTRACTOR = {
    "name": "left",
    "device": "linear-20",
    "fixed_point_mm": [30, 10, -10],
    "moving_point_mm": [30, 5, -30],
    "vector": [0, -1, 0],
    "target_mm": 15,
}
DISTRACTOR_ARGS = [
    "--device", "linear-20", "--fixed", "30", "10", "-10", "--moving", "30", "5", "-30",
    "--vector", "0", "-1", "0", "--target", "15",
]  # fmt: skip


def make_case(folder, **changes):
    data = {
        "schema_version": SCHEMA_VERSION,
        "distractors": [dict(DISTRACTOR)],
        "protocol": dict(PROTOCOL),
        **changes,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.json").write_text(json.dumps(data, indent=2))
    return folder


def run(argv, capsys):
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(argv, capsys, case_dir=None, match=None):
    """Run ``argv``; assert the failure contract; return the error line."""
    before = (case_dir / "case.json").read_bytes() if case_dir else None
    code, out, err = run(argv, capsys)
    assert code == 2, (argv, out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    if case_dir is not None:
        assert (case_dir / "case.json").read_bytes() == before
        assert not [p for p in case_dir.rglob("*") if p.name.endswith(".part")]
    if match is not None:
        assert match in lines[0], lines[0]
    return lines[0]


# --- text from the user is shown literally ----------------------------------------------


@pytest.mark.parametrize("name", ["[/x]", "[bold]x[/]", "a[red]b"])
def test_names_with_markup_are_printed_literally(tmp_path, capsys, name):
    case = make_case(tmp_path / "c")
    code, out, err = run(["landmark", case, "--name", name, "--at", "1", "2", "3"], capsys)
    assert code == 0, err
    assert repr(name) in out
    assert name in load_case(case).landmarks_mm
    code, out, err = run(["distractor", "add", case, "--name", name, *DISTRACTOR_ARGS], capsys)
    assert code == 0, err
    assert repr(name) in out
    code, out, _ = run(["distractor", "list", case], capsys)
    assert code == 0 and name in out
    code, out, _ = run(["schedule", case], capsys)
    assert code == 0 and f"distractor {name}:" in out


def test_values_in_messages_are_printed_literally(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    line = refused(["landmark", case, "--name", "chin", "--at", "nan", "0", "0"], capsys, case)
    assert line == "error: --at must be a list of 3 finite numbers, got [nan, 0.0, 0.0]"
    line = refused(["osteotomy", "add", case, "--name", "[/x]", "--size", "1", "1"], capsys, case)
    assert line.startswith("error: --center is missing")


# --- planner device add/set -------------------------------------------------------------


def test_device_add_and_set_work(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    args = ["--kind", "linear", "--stroke", "25", "--mm-per-turn", "0.4"]
    code, out, err = run(["device", "add", case, "--name", "mine", *args], capsys)
    assert code == 0, err
    code, _, err = run(["device", "set", case, "--name", "mine", "--stroke", "28"], capsys)
    assert code == 0, err
    (device,) = load_case(case).devices
    assert (device.kind, device.stroke_mm, device.mm_per_turn) == ("linear", 28.0, 0.4)
    refused(
        ["device", "set", case, "--name", "mine", "--kind", "curvilinear"],
        capsys,
        case,
        "--track-radius is required for a curvilinear device",
    )
    code, out, _ = run(["device", "list", case], capsys)
    assert code == 0 and "mine" in out and "linear-20" in out


# --- environment faults -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_disk_full_and_read_only_are_one_line(tmp_path, capsys, monkeypatch, code, words):
    case = make_case(tmp_path / "c")

    def failing_replace(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "replace", failing_replace)
    line = refused(["landmark", case, "--name", "chin", "--at", "0", "-40", "-50"], capsys, case)
    assert words in line and str(case / "case.json") in line
    line = refused(["schedule", case, "--csv", tmp_path / "s.csv"], capsys, case)
    assert words in line and str(tmp_path / "s.csv") in line
    assert not (tmp_path / "s.csv").exists()


def test_write_failing_midway_leaves_the_old_file(tmp_path, capsys, monkeypatch):
    case = make_case(tmp_path / "c")
    (tmp_path / "s.csv").write_text("old\n")
    import csv

    class FullWriter:
        def __init__(self, *a, **k):
            pass

        def writerow(self, row):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv, "writer", FullWriter)
    line = refused(["schedule", case, "--csv", tmp_path / "s.csv"], capsys, case)
    assert "the disk is full" in line and str(tmp_path / "s.csv") in line
    assert (tmp_path / "s.csv").read_text() == "old\n"
    assert not list(tmp_path.glob(".*part"))


def test_segment_into_an_existing_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    refused(["segment", tmp_path / "nowhere", "-o", tmp_path / "file"], capsys, match="is a file")


def test_schedule_csv_into_a_folder(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    (tmp_path / "folder").mkdir()
    line = refused(["schedule", case, "--csv", tmp_path / "folder"], capsys, case)
    assert "--csv" in line and "is a folder; give a file name" in line
    refused(["schedule", case, "--ics", tmp_path / "folder"], capsys, case, "--ics")


@pytest.mark.parametrize("text", ["{ not json", '{"models": 3}', "[" * 100_000])
def test_corrupt_models_json(tmp_path, capsys, text):
    case = make_case(tmp_path / "c")
    (case / "models").mkdir()
    (case / "models" / "models.json").write_text(text)
    line = refused(["check", case], capsys, case, "models.json")
    assert "rebuild the models" in line
    refused(["build", case], capsys, case, "models.json")


# --- hostile case files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
        (
            '{"schema_version": 1, "protocol": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "nests too deeply",
        ),
        ('{"schema_version": ' + "7" * 5000 + "}", "not valid JSON"),
        (
            json.dumps({"schema_version": 1, "protocol": {**PROTOCOL, "latency_days": 10**400}}),
            "protocol.latency_days must be a number, got a 401-digit integer",
        ),
        (
            json.dumps({"schema_version": True, "protocol": PROTOCOL}),
            "schema_version is true; this planner reads version 1",
        ),
        (json.dumps({"schema_version": 1}), "protocol is missing"),
    ],
)
@pytest.mark.parametrize("verb", ["check", "schedule", "build", "protocol"])
def test_hostile_case_files(tmp_path, capsys, text, words, verb):
    case = tmp_path / "c"
    case.mkdir()
    (case / "case.json").write_text(text)
    line = refused([verb, case], capsys, case, words)
    assert len(line) < 400


def test_huge_vector_is_normalised_not_zeroed(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    code, _, err = run(["distractor", "set", case, "--name", "left", "--vector", "1e308", "1e308", "0"], capsys)  # fmt: skip
    assert code == 0, err
    assert load_case(case).distractor("left").vector == (0.707107, 0.707107, 0.0)


# --- concurrent edits -----------------------------------------------------------------------


def test_concurrent_landmark_edits_keep_every_landmark(tmp_path):
    case = make_case(tmp_path / "c")
    code = "import sys; from planner.cli.main import main; sys.exit(main(sys.argv[1:]))"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                "landmark",
                str(case),
                "--name",
                f"p{i}",
                "--at",
                str(i),
                "0",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(20)
    ]
    results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
    assert all(rc == 0 for _, _, rc in results), [e for _, e, _ in results]
    landmarks = load_case(case).landmarks_mm
    assert sorted(landmarks) == sorted(f"p{i}" for i in range(20))
    assert all(landmarks[f"p{i}"] == (i, 0, 0) for i in range(20))


def test_a_held_lock_gives_a_clear_message(tmp_path, capsys, monkeypatch):
    import filelock

    from planner.plan import case_edit

    case = make_case(tmp_path / "c")
    monkeypatch.setattr(case_edit, "LOCK_TIMEOUT_S", 0.2)
    with filelock.FileLock(case / ".case.json.lock"):
        line = refused(["landmark", case, "--name", "x", "--at", "0", "0", "0"], capsys, case)
    assert "being changed by another planner command" in line


# --- file modes, leftovers, symlinks -------------------------------------------------------


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_files_honour_the_umask(tmp_path, capsys, umask_022):
    case = make_case(tmp_path / "c")
    assert run(["landmark", case, "--name", "chin", "--at", "0", "0", "0"], capsys)[0] == 0
    assert run(["schedule", case, "--csv", tmp_path / "s.csv"], capsys)[0] == 0
    assert stat.S_IMODE((case / "case.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "s.csv").stat().st_mode) == 0o644


def test_atomic_folders_honour_the_umask(tmp_path, umask_022):
    from planner.fileio import atomic_dir

    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("a")
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "a.txt").stat().st_mode) == 0o644


def test_orphans_of_a_killed_run_are_cleaned(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = time.time() - 3600
    orphans = [
        case / f".case.json.{dead.pid}-abc123.part",  # a killed planner's file
        case / ".case.json.x8kq_2.part",  # the old naming
        case / f".out.{dead.pid}-zz.part",  # a killed planner's folder
    ]
    for p in orphans[:2]:
        p.write_text("half")
    orphans[2].mkdir()
    (orphans[2] / "skull.stl").write_text("half")
    live = case / f".case.json.{os.getpid()}-live.part"  # a running writer: kept
    live.write_text("busy")
    fresh = case / ".case.json.new_one.part"  # newer than this run: kept
    other = case / ".notes.txt.1-x.part"  # not ours
    other.write_text("x")
    for p in (*orphans, live, other):
        os.utime(p, (old, old))
    fresh.write_text("x")
    assert run(["landmark", case, "--name", "chin", "--at", "0", "0", "0"], capsys)[0] == 0
    assert not orphans[0].exists() and not orphans[1].exists()
    assert orphans[2].exists()  # cleaned by the next write of out/, not of case.json
    from planner.fileio import atomic_dir

    with atomic_dir(case / "out", overwrite=True) as tmp:
        (tmp / "x").write_text("x")
    assert not orphans[2].exists()
    assert live.exists() and fresh.exists() and other.exists()


def test_a_symlinked_output_is_written_through(tmp_path, capsys):
    real = make_case(tmp_path / "real")
    case = tmp_path / "c"
    case.mkdir()
    (case / "case.json").symlink_to(real / "case.json")
    assert run(["landmark", case, "--name", "chin", "--at", "1", "2", "3"], capsys)[0] == 0
    assert (case / "case.json").is_symlink()
    assert "chin" in json.loads((real / "case.json").read_text())["landmarks_mm"]
    target = tmp_path / "exports" / "turns.csv"
    target.parent.mkdir()
    target.write_text("old")
    (tmp_path / "link.csv").symlink_to(target)
    assert run(["schedule", real, "--csv", tmp_path / "link.csv"], capsys)[0] == 0
    assert (tmp_path / "link.csv").is_symlink()
    assert target.read_text().startswith("index,number")


# --- messages name what the user typed; one owner of each rule --------------------------------


def test_messages_name_the_option(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    ost = ["--center", "0", "0", "0", "--normal", "0", "0", "0", "--size", "10", "10"]
    refused(["osteotomy", "add", case, "--name", "a", *ost], capsys, case, "--normal is a zero")
    refused(["protocol", case, "--rate", "0"], capsys, case, "--rate is 0 mm/day; it must be > 0")
    refused(
        ["distractor", "set", case, "--name", "left", "--vector", "0", "0", "0"],
        capsys,
        case,
        "--vector is a zero vector",
    )


def test_segment_names_the_threshold_option(tmp_path, capsys):
    for value, words in (("nan", "--threshold must be a number, got nan"), ("9000", "<= 4000")):
        argv = ["segment", tmp_path / "nowhere", "-o", tmp_path / "new", "--threshold", value]
        refused(argv, capsys, match=words)
    assert not (tmp_path / "new").exists()


def test_check_lists_every_problem(tmp_path, capsys):
    case = make_case(
        tmp_path / "c",
        protocol={**PROTOCOL, "rate_mm_per_day": 0},
        distractors=[{**DISTRACTOR, "target_mm": 30}],
        osteotomies=[{"name": "a", "center_mm": [0, 0], "normal": [0, 0, 1], "size_mm": [1, 1]}],
    )
    before = (case / "case.json").read_bytes()
    code, out, err = run(["check", case], capsys)
    assert code == 2
    assert "3 problems in the case" in out
    for text in (
        "osteotomies[0].center_mm must be a list of 3 finite numbers",
        "protocol.rate_mm_per_day is 0 mm/day",
        "distractors[0].target_mm is 30 mm, beyond the stroke of device 'linear-20' (20 mm)",
    ):
        assert text in out
    assert len(err.strip().splitlines()) == 1 and "and 2 more problems" in err
    assert (case / "case.json").read_bytes() == before


def test_every_verb_refuses_a_target_beyond_the_stroke_in_the_same_words(tmp_path, capsys):
    words = "is 30 mm, beyond the stroke of device 'linear-20' (20 mm); choose a longer device"
    case = make_case(tmp_path / "c", distractors=[])
    args = [a if a != "15" else "30" for a in DISTRACTOR_ARGS]
    lines = [refused(["distractor", "add", case, "--name", "left", *args], capsys, case)]
    case = make_case(tmp_path / "c")
    lines.append(
        refused(["distractor", "set", case, "--name", "left", "--target", "30"], capsys, case)
    )
    for line in lines:
        assert line.startswith(f"error: --target {words}"), line
    bad = make_case(tmp_path / "bad", distractors=[{**DISTRACTOR, "target_mm": 30}])
    lines = [refused([verb, bad], capsys, bad) for verb in ("schedule", "check", "build")]
    assert lines[0] == lines[1] == lines[2]
    assert lines[0].startswith(f"error: distractors[0].target_mm {words}")


def test_protocol_and_names_are_refused_alike_by_edit_and_schedule(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    edit = refused(["protocol", case, "--time", "8am"], capsys, case)
    bad = make_case(tmp_path / "bad", protocol={**PROTOCOL, "first_activation_time": "8am"})
    schedule = refused(["schedule", bad], capsys, bad)
    assert edit == "error: --time is '8am'; use HH:MM"
    assert schedule == "error: protocol.first_activation_time is '8am'; use HH:MM"
    twice = make_case(tmp_path / "twice", distractors=[DISTRACTOR, DISTRACTOR])
    lines = {refused([v, twice], capsys, twice) for v in ("schedule", "check", "build")}
    assert lines == {"error: distractors[1].name 'left' is used twice; names must differ"}


# --- osteotomy set --perpendicular-to -------------------------------------------------------


def test_perpendicular_to_a_distractor(tmp_path, capsys):
    case = make_case(tmp_path / "c", distractors=[{**DISTRACTOR, "vector": [0, -3, 1]}])
    ost = ["--center", "30", "10", "-20", "--normal", "0", "0", "1", "--size", "30", "20"]
    assert run(["osteotomy", "add", case, "--name", "cut", *ost], capsys)[0] == 0
    code, _, err = run(
        ["osteotomy", "set", case, "--name", "cut", "--perpendicular-to", "left"], capsys
    )
    assert code == 0, err
    c = load_case(case)
    assert c.osteotomy("cut").normal == c.distractor("left").vector == (0.0, -0.948683, 0.316228)
    refused(
        ["osteotomy", "set", case, "--name", "cut", "--perpendicular-to", "nope"],
        capsys,
        case,
        "--perpendicular-to: no distractor called 'nope'",
    )


def test_a_symlinked_output_folder_is_written_through(tmp_path):
    from planner.fileio import atomic_dir

    (tmp_path / "elsewhere" / "out").mkdir(parents=True)
    (tmp_path / "out").symlink_to(tmp_path / "elsewhere" / "out")
    with atomic_dir(tmp_path / "out", overwrite=True) as tmp:
        (tmp / "plan.json").write_text("{}")
    assert (tmp_path / "out").is_symlink()
    assert (tmp_path / "elsewhere" / "out" / "plan.json").read_text() == "{}"
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["out"]


@pytest.mark.parametrize(
    "argv",
    [
        ["landmark", "CASE", "--name", "x", "--at", "a", "b", "c"],
        ["landmark", "CASE"],
        ["osteotomy"],
        ["distractor", "add", "CASE", "--name", "x", "--vector", "1", "2"],
    ],
)
def test_usage_errors_are_one_line(tmp_path, capsys, argv):
    case = make_case(tmp_path / "c")
    before = (case / "case.json").read_bytes()
    with pytest.raises(SystemExit) as info:
        main([str(case) if a == "CASE" else a for a in argv])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "--help')" in err[0]
    assert (case / "case.json").read_bytes() == before


def test_a_bug_is_one_line_with_the_traceback_on_request(tmp_path, capsys, monkeypatch):
    from planner.motion import schedule

    def broken(*args, **kwargs):
        raise ValueError("something [bold]odd[/]\nhappened")

    monkeypatch.setattr(schedule, "make_schedule", broken)
    case = make_case(tmp_path / "c")
    code, _, err = run(["schedule", case], capsys)
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "error: internal error (ValueError: something [bold]odd[/] happened); this is a bug "
        "in planner, please report it with the command you ran (PLANNER_DEBUG=1 shows the "
        "traceback)"
    ]
    monkeypatch.setenv("PLANNER_DEBUG", "1")
    with pytest.raises(ValueError, match="something"):
        main(["schedule", str(case)])


def test_out_of_memory_is_the_environment_one_line_nothing_written(tmp_path, capsys, monkeypatch):
    # a scan too large for the machine's memory was "internal error ... a bug in planner"
    from planner.motion import schedule

    def too_large(*args, **kwargs):
        raise MemoryError("Unable to allocate 28.3 GiB for an array")

    monkeypatch.setattr(schedule, "make_schedule", too_large)
    case = make_case(tmp_path / "c")
    before = sorted(p.name for p in case.iterdir())
    code, _, err = run(["schedule", case], capsys)
    assert code == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: out of memory (Unable to allocate 28.3 GiB for an array)")
    assert "crop the series" in line
    assert sorted(p.name for p in case.iterdir()) == before
