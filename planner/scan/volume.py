"""A CT volume: an array of Hounsfield units plus the affine that places it in the patient.

Conventions (used everywhere in planner):

- ``Volume.hu`` has shape ``(ni, nj, nk)`` and is indexed ``hu[i, j, k]`` with ``i`` the
  column, ``j`` the row and ``k`` the slice (in order of position along the slice normal).
  It is normally a transposed view of a C-ordered ``(nk, nj, ni)`` stack of slices, so
  ``hu.ravel(order="F")`` is free and matches VTK's point order.
- ``Volume.affine`` is a ``(4, 4)`` float matrix mapping ``(i, j, k, 1)`` to DICOM patient
  coordinates ``(x, y, z, 1)`` in LPS millimetres (x to the patient's left, y posterior,
  z towards the head).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.geometry.transforms import apply_affine

__all__ = ["Volume", "apply_affine", "c_frame"]


def c_frame(a: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``a`` (3D) or its transpose, whichever is C-contiguous, and the axis order used.

    ``Volume.hu`` is normally the transpose of a C-ordered slice stack; scipy and VTK work
    fastest on the C-ordered view. Copies only when neither is contiguous.
    """
    if a.T.flags.c_contiguous:
        return a.T, (2, 1, 0)
    if a.flags.c_contiguous:
        return a, (0, 1, 2)
    return np.ascontiguousarray(a.T), (2, 1, 0)


@dataclass(frozen=True, eq=False)
class Volume:
    """A CT volume in patient coordinates.

    Parameters
    ----------
    hu : (ni, nj, nk) int16 or float32
        Hounsfield units, indexed ``[column, row, slice]``.
    affine : (4, 4) float
        Index ``(i, j, k)`` to patient LPS mm.
    series_uid : str
        SeriesInstanceUID of the source series ("" when synthetic).
    description : str
        SeriesDescription, for display only.
    modality : str
        "CT" (including cone-beam CT).
    notes : tuple of str
        What the import did that a user should know (resampled a tilted series, ...).
    """

    hu: np.ndarray
    affine: np.ndarray
    series_uid: str = ""
    description: str = ""
    modality: str = "CT"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.hu.ndim != 3:
            raise ValueError(f"hu must be a 3D array, got shape {self.hu.shape}")
        affine = np.asarray(self.affine, dtype=float)
        if affine.shape != (4, 4):
            raise ValueError(f"affine must have shape (4, 4), got {affine.shape}")
        object.__setattr__(self, "affine", affine)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Voxel counts ``(ni, nj, nk)``."""
        return tuple(int(n) for n in self.hu.shape)  # type: ignore[return-value]

    @property
    def spacing_mm(self) -> np.ndarray:
        """(3,) float: voxel size along i, j, k in mm (lengths of the affine's columns)."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def direction(self) -> np.ndarray:
        """(3, 3) float: unit column vectors of the i, j, k axes in LPS."""
        return self.affine[:3, :3] / self.spacing_mm

    @property
    def origin_mm(self) -> np.ndarray:
        """(3,) float: LPS position of voxel (0, 0, 0)."""
        return self.affine[:3, 3].copy()

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm³."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    def index_to_lps(self, ijk: np.ndarray) -> np.ndarray:
        """Map ``(..., 3)`` voxel indices (may be fractional) to LPS mm."""
        return apply_affine(self.affine, ijk)

    def lps_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Map ``(..., 3)`` LPS mm points to fractional voxel indices."""
        return apply_affine(np.linalg.inv(self.affine), xyz)

    def bounds_mm(self) -> np.ndarray:
        """(2, 3) float: min and max LPS corner over the voxel centres."""
        corners = np.array(np.meshgrid(*[[0, n - 1] for n in self.shape], indexing="ij"))
        pts = self.index_to_lps(corners.reshape(3, -1).T)
        return np.array([pts.min(axis=0), pts.max(axis=0)])
