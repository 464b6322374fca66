"""Off-screen window fixtures: a CT-like volume around the two boxes, and the probe."""

from __future__ import annotations

import os

import numpy as np
import pytest

from planner.scan.volume import Volume
from tests.view.boxcase import box_models

BONE_HU = 1000


def box_volume() -> Volume:
    """1 mm voxels from (-40, -20, -20) to (69, 19, 19) mm; bone where the boxes are."""
    origin = np.array([-40.0, -20.0, -20.0])
    shape = (110, 40, 40)
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    xyz = ijk + origin
    hu = np.full(shape, -1000, dtype=np.int16)
    for mesh in box_models().values():
        lo, hi = mesh.bounds
        inside = np.all((xyz >= lo) & (xyz <= hi), axis=-1)
        hu[inside] = BONE_HU
    affine = np.eye(4)
    affine[:3, 3] = origin
    return Volume(hu=hu, affine=affine)


def require_offscreen() -> None:
    """Skip unless VTK can render off-screen here (tried once, in a subprocess)."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from planner.render.offscreen import rendering_available

    ok, reason = rendering_available()
    if not ok:
        pytest.skip(reason)
