"""Unit vectors: the one normalisation used across planner."""

from __future__ import annotations

import numpy as np

from planner.errors import PlannerError

__all__ = ["unit"]


def unit(vectors, *, name: str | None = None) -> np.ndarray:
    """Vectors scaled to length 1 along the last axis.

    Parameters
    ----------
    vectors : (..., 3) float
        Any finite vectors; huge and tiny lengths are fine (they are rescaled by their
        largest component first, so ``(1e308, 1e308, 0)`` gives ``(0.707, 0.707, 0)``).
    name : str, optional
        What the vectors are, for the error message.

    Returns
    -------
    (..., 3) float
        The unit vectors.

    Raises
    ------
    PlannerError
        Only with ``name``: a vector is zero or has a non-finite component, or the shape
        is not ``(..., 3)``. Without ``name`` such vectors become ``(0, 0, 0)`` and a bad
        shape raises ValueError (callers that use zero as "no direction").
    """
    arr = np.asarray(vectors, dtype=float)
    if arr.ndim == 0 or arr.shape[-1] != 3:
        if name is not None:
            raise PlannerError(f"{name} must be a 3-vector, got {vectors!r}")
        raise ValueError(f"vectors must have shape (..., 3), got {arr.shape}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scale = np.abs(arr).max(axis=-1, keepdims=True)
        scaled = arr / scale
        norm = np.sqrt(np.einsum("...i,...i->...", scaled, scaled))[..., None]
        ok = np.isfinite(norm) & (norm > 0) & np.isfinite(scale)
    if name is not None and not np.all(ok):
        raise PlannerError(f"{name} must be a finite, non-zero vector, got {vectors!r}")
    return np.divide(scaled, norm, out=np.zeros_like(arr), where=ok)
