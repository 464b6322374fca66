"""Shapes and decisions for the cut and free-segment tests."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import trimesh

from planner.plan.case import Distractor, Osteotomy


def make_osteotomy(name, center, normal, size, axis=(1, 0, 0), kerf=1.0):
    return Osteotomy(name, tuple(center), tuple(normal), tuple(size), tuple(axis), kerf)


def make_bar():
    return trimesh.creation.box(extents=(20, 20, 60))


def make_distractor(moving, fixed):
    return Distractor("left", "generic", tuple(fixed), tuple(moving), (0, 0, 1), 20.0)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def moved(ost, rot, shift):
    return dataclasses.replace(
        ost,
        center_mm=tuple(rot @ ost.center_mm + shift),
        normal=tuple(rot @ ost.normal),
        in_plane_axis=tuple(rot @ ost.in_plane_axis),
    )


def assert_segments_sound(result):
    for seg in result.segments:
        assert seg.mesh.is_watertight
        assert seg.volume_mm3 > 0
        assert seg.mesh.volume == pytest.approx(seg.volume_mm3, rel=1e-6)
