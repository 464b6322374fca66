"""PrusaSlicer, headless: slice an STL and count the extruding moves of its G-code."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PRUSA = shutil.which("prusa-slicer")
needs_prusa = pytest.mark.skipif(
    PRUSA is None, reason="PrusaSlicer not installed (apt-get install -y prusa-slicer)"
)


def extruding_moves(stl: Path, tmp: Path) -> int:
    """Slice ``stl`` with PrusaSlicer's defaults; the number of G1 moves that extrude."""
    gcode = tmp / (stl.stem + ".gcode")
    run = subprocess.run(
        [PRUSA, "--export-gcode", "-o", str(gcode), str(stl)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = gcode.read_text().splitlines()
    return sum(1 for ln in lines if ln.startswith("G1 ") and " E" in ln)
