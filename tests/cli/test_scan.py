"""The CLI of the CT-to-models stage and the demo, in process through ``main(argv)``."""

import json

import pytest

from planner.cli.main import main
from planner.plan.case import load_case
from planner.samples import make_head, write_ct_series
from tests.scan.test_dicom import BAD_INPUTS


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scan") / "dicom"
    write_ct_series(make_head().volume, folder, file_names="random")
    return folder


def test_series_lists_and_marks_the_choice(series, capsys):
    assert main(["series", str(series)]) == 0
    out = capsys.readouterr().out
    assert "→ chosen" in out and "planner synthetic head" in out and "140" in out


def test_segment_writes_a_case_and_refuses_to_overwrite(series, tmp_path, capsys):
    case_dir = tmp_path / "case"
    assert main(["segment", str(series), "-o", str(case_dir)]) == 0
    out = capsys.readouterr().out
    assert "threshold: 300.5 HU" in out and "mandible" in out
    case = load_case(case_dir)
    assert case.segmentation.threshold_hu == 300.5
    assert case.source.series_uid and case.source.path == str(series)  # as typed
    report = json.loads((case_dir / "models" / "models.json").read_text())
    assert [m["name"] for m in report["models"]] == ["skull", "mandible"]
    assert all(m["watertight"] for m in report["models"])

    before = (case_dir / "case.json").read_text()
    assert main(["segment", str(series), "-o", str(case_dir)]) == 2
    assert "already holds a case" in capsys.readouterr().err
    assert (case_dir / "case.json").read_text() == before

    # --force replaces the models and keeps the plan
    args = ["--center", "0", "0", "0", "--normal", "0", "0", "1", "--size", "10", "10"]
    assert main(["osteotomy", "add", str(case_dir), "--name", "a", *args]) == 0
    assert main(["segment", str(series), "-o", str(case_dir), "--force", "--one-model"]) == 0
    case = load_case(case_dir)
    assert [o.name for o in case.osteotomies] == ["a"]
    assert not case.segmentation.separate_mandible
    assert not (case_dir / "models" / "mandible.stl").exists()


@pytest.mark.parametrize(("make", "phrase"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_scans_give_one_line_exit_2_and_write_nothing(tmp_path, capsys, make, phrase):
    folder = tmp_path / "in"
    folder.mkdir()
    target = make(folder)
    out_dir = tmp_path / "case"
    assert main(["segment", str(target), "-o", str(out_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and phrase in " ".join(err.split())
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_demo_runs_the_whole_chain(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    assert main(["demo", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "not a certified medical device" in out
    # piped progress: plain lines that finish, in true units (140 slices, not 280)
    for done in ("making the sample CT 1/1 done", "writing DICOM 140/140 done"):
        assert done in out
    # true units: 140 slices, not 280 (the random series UID may hold any digits)
    assert "reading slices 140/140 done" in out and "/280" not in out
    assert "collision sweep 1/1" not in out and "collision sweep ..." in out
    manifest = json.loads((out_dir / "case" / "out" / "manifest.json").read_text())
    kinds = {e["kind"] for e in manifest["outputs"]}
    assert {"segment", "schedule", "poses", "report", "guide", "or_model"} <= kinds
    from planner.render.offscreen import rendering_available

    if rendering_available()[0]:  # the clip and the stills, as 'planner build' makes them
        assert {"animation", "image"} <= kinds
    for e in manifest["outputs"]:
        assert (out_dir / "case" / "out" / e["path"]).is_file()
    segments = [e for e in manifest["outputs"] if e["kind"] == "segment"]
    assert all(e["watertight"] for e in segments)
    assert any(e["path"].endswith("_end.stl") for e in segments)
    # the demo's vectors are 4 degrees apart by design: the binding is reported
    assert any("degrees apart" in w for w in manifest["warnings"])
    assert main(["demo", str(out_dir)]) == 2  # refuses to overwrite without --force
    assert main(["check", str(out_dir / "case"), "--no-collisions"]) == 0
    (out_dir / "case" / "out" / "plan.json").unlink()
    assert main(["build", str(out_dir / "case")]) == 0  # rebuilds out/ whole
    assert (out_dir / "case" / "out" / "plan.json").is_file()
    assert main(["schedule", str(out_dir / "case")]) == 0
    assert "activation schedule" in capsys.readouterr().out


def test_a_missing_slice_is_refused_unless_gaps_are_allowed_and_the_note_printed(tmp_path, capsys):
    files = write_ct_series(make_head(spacing_mm=2.0).volume, tmp_path / "dicom")
    files[len(files) // 2].unlink()  # a slice lost in the middle of the series
    before, after = files[len(files) // 2 - 1].name, files[len(files) // 2 + 1].name

    assert main(["series", str(tmp_path / "dicom")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "missing slices" in out and "no usable CT volume" in out
    assert main(["segment", str(tmp_path / "dicom"), "-o", str(tmp_path / "a")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"gap between {before} and {after}" in err and "--allow-gaps" in err

    assert main(["series", str(tmp_path / "dicom"), "--allow-gaps"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "→ chosen" in out and f"missing slices allowed: a 4.00 mm gap between {before}" in out
    args = ["segment", str(tmp_path / "dicom"), "-o", str(tmp_path / "b"), "--allow-gaps"]
    assert main(args) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "filled by linear interpolation" in out
