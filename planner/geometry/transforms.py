"""Rigid and affine transforms of points: ``p' = T[:3, :3] @ p + T[:3, 3]``.

A *pose* is a rigid ``(4, 4)`` homogeneous transform acting on column vectors (LPS mm);
an *affine* is any ``(4, 4)`` homogeneous transform (e.g. a volume's index -> LPS map).
"""

from __future__ import annotations

import math

import numpy as np

from planner.geometry.vectors import unit

__all__ = [
    "apply_affine",
    "check_pose",
    "invert_pose",
    "rigid_pose",
    "rotation_about_axis",
]

_RIGID_TOL = 1e-6


def apply_affine(affine, points) -> np.ndarray:
    """Apply a ``(4, 4)`` affine (or pose) to points.

    Parameters
    ----------
    affine : (4, 4) float
        Homogeneous transform; the last row is not used.
    points : (..., 3) float
        Points to transform.

    Returns
    -------
    (..., 3) float
        Transformed points, same shape as ``points``.

    Examples
    --------
    >>> a = np.diag([2.0, 2.0, 2.0, 1.0]); a[:3, 3] = 1.0
    >>> apply_affine(a, [[1.0, 0.0, 0.0]])
    array([[3., 1., 1.]])
    """
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4):
        raise ValueError(f"affine must have shape (4, 4), got {affine.shape}")
    points = np.asarray(points, dtype=float)
    if points.ndim == 0 or points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {points.shape}")
    # einsum, not ``points @ R.T``: BLAS is slow on thin (n, 3) arrays
    return np.einsum("...j,ij->...i", points, affine[:3, :3]) + affine[:3, 3]


def check_pose(pose, name: str = "pose") -> np.ndarray:
    """``pose`` as a float ``(4, 4)`` array, checked to be rigid.

    Rigid: finite, ``R.T @ R = I`` and ``det R = +1`` (to 1e-6), last row ``(0, 0, 0, 1)``.

    Raises
    ------
    ValueError
        Naming ``name``: wrong shape, non-finite, or not rigid (poses are made by code, so
        a bad one is a programming error, not a user's).
    """
    pose = np.asarray(pose, dtype=float)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise ValueError(f"{name} must be a finite (4, 4) array, got shape {pose.shape}")
    rot = pose[:3, :3]
    if (
        not np.allclose(rot.T @ rot, np.eye(3), atol=_RIGID_TOL)
        or abs(np.linalg.det(rot) - 1.0) > _RIGID_TOL
        or not np.allclose(pose[3], [0, 0, 0, 1])
    ):
        raise ValueError(
            f"{name} must be a rigid transform (orthonormal rotation with det +1,"
            " translation, last row 0 0 0 1)"
        )
    return pose


def invert_pose(pose) -> np.ndarray:
    """Inverse ``(4, 4)`` of a rigid ``pose`` (exact: uses ``R.T``, not a general inverse)."""
    pose = np.asarray(pose, dtype=float)
    return rigid_pose(pose[:3, :3].T, -pose[:3, :3].T @ pose[:3, 3])


def rigid_pose(rotation, translation) -> np.ndarray:
    """The ``(4, 4)`` pose made of a ``(3, 3)`` rotation and a ``(3,)`` translation (mm)."""
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = translation
    return out


def rotation_about_axis(axis, angle_rad: float) -> np.ndarray:
    """``(3, 3)`` rotation by ``angle_rad`` about ``axis`` (right-hand rule, Rodrigues).

    ``axis`` need not be unit length; a zero or non-finite axis raises PlannerError.
    """
    a = unit(axis, name="rotation axis")
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + math.sin(angle_rad) * k + (1.0 - math.cos(angle_rad)) * (k @ k)
