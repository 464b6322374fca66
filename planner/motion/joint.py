"""Rigid fits that keep a segment's joints in place: a ball joint or a hinge.

A moving segment that still carries a condyle (a one-sided ramus distraction moves the
body and the far ramus, whose condyle sits in its fossa) cannot translate freely: the
joint holds the condyle and the segment turns about it. :func:`fit_about_joints` gives
the rigid motion, among those that leave the joint points where they are, that brings
the device's footplate frame closest to where the device alone would put it:

- one joint point ``p``: a ball joint, any rotation about ``p`` (orthogonal Procrustes
  about ``p``, the Kabsch fit without centring);
- two joint points (both condyles): a hinge, a rotation about the axis through both,
  whose best angle has a closed form.

This is a model, not the patient: a real condyle also slides forward in its fossa and
remodels, and the device and its screws bend a little. What the joint forbids shows as a
residual at the device (see :func:`planner.motion.distraction.solve_segment_pose`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from planner.geometry import rigid_pose, rotation_about_axis

__all__ = ["CONDYLES", "fit_about_joints", "joints_on_moving_segments"]

CONDYLES = ("condyle_left", "condyle_right")
"""The landmark names of the condyles (the joint points; also the mandibular lengths)."""


def _about_point(source: np.ndarray, target: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    a, b = source - pivot, target - pivot
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rigid_pose(rot, pivot - rot @ pivot)


def _about_axis(source: np.ndarray, target: np.ndarray, p0: np.ndarray, p1: np.ndarray):
    axis = (p1 - p0) / np.linalg.norm(p1 - p0)
    a, b = source - p0, target - p0
    along_a, along_b = a @ axis, b @ axis
    # sum of b . R(theta) a = A cos(theta) + B sin(theta) + const: best at atan2(B, A)
    cos_term = float(np.sum(np.einsum("ij,ij->i", a, b) - along_a * along_b))
    sin_term = float(np.sum(np.einsum("ij,ij->i", b, np.cross(axis, a))))
    theta = math.atan2(sin_term, cos_term) if (cos_term or sin_term) else 0.0
    rot = rotation_about_axis(axis, theta)
    return rigid_pose(rot, p0 - rot @ p0)


def fit_about_joints(source, target, joints_mm) -> np.ndarray:
    """(4, 4) rigid transform closest to ``source -> target`` that keeps the joints still.

    Parameters
    ----------
    source, target : (n, 3) float
        Corresponding points, LPS mm (n >= 3, not all on a line with the joints).
    joints_mm : (k, 3) float
        One point (a ball joint) or two distinct points (a hinge through both).

    Returns
    -------
    (4, 4) float
        Minimises the summed squared distances from the moved ``source`` to ``target``
        among the rotations that leave every joint point fixed.
    """
    source = np.asarray(source, dtype=float)
    target = np.asarray(target, dtype=float)
    joints = np.asarray(joints_mm, dtype=float).reshape(-1, 3)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 3:
        raise ValueError("source and target must both be (n, 3)")
    if len(joints) == 1:
        return _about_point(source, target, joints[0])
    if len(joints) == 2 and np.linalg.norm(joints[1] - joints[0]) > 1e-6:
        return _about_axis(source, target, joints[0], joints[1])
    raise ValueError(f"joints_mm must be one point or two distinct points, got {len(joints)}")


def joints_on_moving_segments(
    landmarks_mm: Mapping[str, Sequence[float]],
    landmark_segments: Mapping[str, str],
    moving: Collection[str],
    *,
    condyles: Sequence[str] = CONDYLES,
) -> dict[str, tuple[tuple[float, float, float], ...]]:
    """Moving segment key -> the condyle points it carries (for ``Motion.joints_mm``).

    A condyle on a moving segment (a one-sided ramus distraction moves the body and the
    far ramus) stays in its joint: the segment turns about it.
    """
    out: dict[str, tuple] = {}
    for c in condyles:
        key = landmark_segments.get(c)
        if key in moving and c in landmarks_mm:
            point = tuple(float(x) for x in landmarks_mm[c])
            out[key] = (*out.get(key, ()), point)
    return out
