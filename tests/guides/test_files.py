"""Guide files: STL read back whole, 3MF with units, names and colours."""

from __future__ import annotations

import numpy as np
import pytest

from planner.guides.checks import read_back
from planner.guides.files import COLOURS, write_3mf, write_stl
from planner.guides.font import text_outline, text_width
from planner.guides.make import build_guide
from tests.guides.bars import bar_case, bar_models


@pytest.fixture(scope="module")
def guide():
    case, models = bar_case(), bar_models()
    return build_guide(case.guides[0], case, models)[0], models


def test_stl_reads_back_as_one_closed_body(guide, tmp_path):
    part, _ = guide
    write_stl(part.mesh, tmp_path / "g.stl", "guide g")
    back = read_back(part.mesh)
    assert back.is_watertight and back.is_winding_consistent and back.body_count == 1
    assert back.volume == pytest.approx(part.mesh.volume, rel=1e-5)
    header = (tmp_path / "g.stl").read_bytes()[:80]
    assert b"guide g" in header


def test_3mf_carries_millimetres_names_and_colours(guide, tmp_path):
    import lib3mf

    part, models = guide
    path = tmp_path / "g.3mf"
    write_3mf(
        [("g", part.mesh, COLOURS["guide"]), ("mandible", models["mandible"], COLOURS["bone"])],
        path,
    )
    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    model.QueryReader("3mf").ReadFromFile(str(path))
    assert model.GetUnit() == lib3mf.ModelUnit.MilliMeter
    objects = model.GetMeshObjects()
    found = {}
    while objects.MoveNext():
        obj = objects.GetCurrentMeshObject()
        resource, index, has = obj.GetObjectLevelProperty()
        assert has
        colour = model.GetColorGroupByID(resource).GetColor(index)
        found[obj.GetName()] = (obj.GetTriangleCount(), wrapper.ColorToRGBA(colour))
    assert found["g"] == (len(part.mesh.faces), COLOURS["guide"])
    assert found["mandible"][1] == COLOURS["bone"]


def test_label_font_width_and_outline():
    assert text_width("ABC", 6.0) == pytest.approx(3 * 5.5 - 1.5)
    outline = text_outline("L1", 3.0, stroke_mm=0.6, origin_mm=(10.0, 20.0))
    x0, y0, x1, y1 = outline.bounds
    assert x0 == pytest.approx(10.0 - 0.3) and y0 == pytest.approx(20.0 - 0.3)
    assert y1 == pytest.approx(23.0 + 0.3)
    assert outline.area > 0 and text_outline("~", 3.0, stroke_mm=0.6).is_empty
    assert np.isfinite(x1)
