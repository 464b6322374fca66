"""Pixel data of a sorted series, read once into a C-ordered ``(nk, nj, ni)`` HU stack.

Native little-endian data are read straight from the file (or zip member) at the offset the
header reader found; compressed data go through pydicom and its plugins (pylibjpeg for
JPEG, JPEG 2000 and RLE). Sizes are checked before anything is allocated: each file's
declared matrix against its pixel data (:mod:`planner.scan.header`), and the whole stack
against the memory of the machine.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from planner.errors import PlannerError
from planner.scan.header import ImageHeader

__all__ = ["read_pixels", "read_stack", "stack_bytes_problem"]

_NATIVE = {"1.2.840.10008.1.2": False, "1.2.840.10008.1.2.1": True}  # syntax -> explicit VR
_PIXEL_TAG = b"\xe0\x7f\x10\x00"
_MEMORY_SHARE = 0.75  # refuse a stack larger than this share of the machine's memory


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not on this platform
        return None


def stack_bytes_problem(images: Sequence[ImageHeader], itemsize: int = 2) -> str:
    """Why the stack of ``images`` cannot be allocated here ("" when it can)."""
    first = images[0]
    need = len(images) * first.rows * first.cols * itemsize
    memory = _physical_memory()
    if memory is not None and need > _MEMORY_SHARE * memory:
        return (
            f"{len(images)} slices of {first.cols}x{first.rows} pixels need "
            f"{need / 1024**3:.1f} GiB, more than this machine's memory "
            f"({memory / 1024**3:.1f} GiB)"
        )
    return ""


def read_stack(
    images: Sequence[ImageHeader],
    progress: Callable[[int, int], None] | None = None,
    done: int = 0,
) -> np.ndarray:
    """Read and rescale the sorted slices into a C-ordered (nk, nj, ni) HU stack.

    Parameters
    ----------
    images : sequence of ImageHeader
        The sorted slices, one frame each, with the same matrix.
    progress : callable(done, total), optional
        Called after each slice; counts continue from ``done`` (the headers read before).
    done : int
        Steps already reported.

    Returns
    -------
    (nk, rows, cols) int16 when every RescaleSlope/Intercept is an integer and the values
    fit, else float32.
    """
    first = images[0]
    integral = all(
        float(im.slope).is_integer() and float(im.intercept).is_integer() for im in images
    )
    stack = np.empty((len(images), first.rows, first.cols), np.int16 if integral else np.float32)
    total = done + len(images)
    for k, im in enumerate(images):
        raw = read_pixels(im)
        if stack.dtype == np.int16:
            ends = np.array([raw.min(), raw.max()], float) * im.slope + im.intercept
            if ends.min() < -32768 or ends.max() > 32767:
                stack = stack.astype(np.float32)  # rare: values beyond int16
        if stack.dtype == np.int16 and im.slope == 1:
            np.add(raw, np.int32(im.intercept), out=stack[k], casting="unsafe")
        elif stack.dtype == np.int16:
            stack[k] = raw.astype(np.int32) * int(im.slope) + int(im.intercept)
        else:
            np.multiply(raw, np.float32(im.slope), out=stack[k], casting="unsafe")
            stack[k] += np.float32(im.intercept)
        if progress is not None:
            progress(done + k + 1, total)
    return stack


def read_pixels(im: ImageHeader) -> np.ndarray:
    """One slice's stored values, (rows, cols); native little-endian data read directly."""
    expected = im.frame_bytes
    explicit = _NATIVE.get(im.syntax)
    if explicit is not None and im.bits_allocated in (8, 16) and im.frames == 1:
        with im.ref.open() as f:
            f.seek(im.offset)
            head = f.read(12 if explicit else 8)
            if head[:4] == _PIXEL_TAG and (not explicit or head[4:6] in (b"OW", b"OB")):
                length = int.from_bytes(head[8:12] if explicit else head[4:8], "little")
                if length != 0xFFFFFFFF:
                    data = f.read(expected)
                    if min(length, len(data)) < expected:
                        raise PlannerError(
                            f"file {im.name} is truncated ({len(data)} of {expected} pixel "
                            "bytes); copy or export the series again"
                        )
                    kind = ("i" if im.signed else "u") + str(im.bits_allocated // 8)
                    raw = np.frombuffer(data, f"<{kind}").reshape(im.rows, im.cols)
                    return _mask_bits(raw, im)
    return _decode(im)


def _mask_bits(raw: np.ndarray, im: ImageHeader) -> np.ndarray:
    """Sign-extend signed values narrower than BitsAllocated (as pydicom does)."""
    unused = im.bits_allocated - im.bits_stored
    if not im.signed or unused <= 0 or unused >= im.bits_allocated:
        return raw
    return (raw << unused) >> unused


def _decode(im: ImageHeader) -> np.ndarray:
    """Compressed or unusual syntaxes: pydicom (pylibjpeg plugins for JPEG, J2K, RLE)."""
    import pydicom

    try:
        with im.ref.open() as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = pydicom.dcmread(f).pixel_array
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PlannerError(
            f"cannot read the pixel data of file {im.name} ({detail}); "
            "the file may be truncated or use an unsupported compression"
        ) from exc
    if raw.shape != (im.rows, im.cols):
        raise PlannerError(f"file {im.name} holds an image of shape {raw.shape}, not one slice")
    return raw
