"""Write a :class:`~planner.scan.volume.Volume` as a genuine CT DICOM series (one file a slice).

For samples, tests and benchmarks: the files carry no patient data (``Anonymous^Sample``,
``SAMPLE``), say they are synthetic (Manufacturer ``planner synthetic``) and place every
slice from the volume's affine, so a reader that gets geometry right reads the same
volume back.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from planner.errors import PlannerError
from planner.fileio import atomic_dir
from planner.scan.volume import Volume

__all__ = ["COMPRESSIONS", "write_ct_series"]

COMPRESSIONS = (None, "rle", "jpeg2000", "deflate")
"""Accepted ``compress`` values: none (Explicit VR Little Endian), RLE Lossless,
JPEG 2000 Lossless, Deflated Explicit VR Little Endian. All lossless."""

_INTERCEPT = -1024.0


def _ds(value: float) -> str:
    """A decimal string (DS) of at most 16 characters."""
    s = f"{value:.10g}"
    if len(s) > 16:
        s = f"{value:.8e}" if abs(value) >= 1e6 or 0 < abs(value) < 1e-4 else f"{value:.9f}"
        s = s[:16]
    return s


def _geometry(affine: np.ndarray):
    """Row/column cosines, pixel spacing, slice step and normal from an affine."""
    a = np.asarray(affine, dtype=float)
    if a.shape != (4, 4) or not np.all(np.isfinite(a)):
        raise ValueError(f"volume.affine must be a finite (4, 4) matrix, got shape {a.shape}")
    col_step, row_step, slice_step = a[:3, 0], a[:3, 1], a[:3, 2]
    di, dj = np.linalg.norm(col_step), np.linalg.norm(row_step)
    if di == 0 or dj == 0:
        raise ValueError("volume.affine has a zero-length i or j axis")
    row_cos, col_cos = col_step / di, row_step / dj
    if abs(row_cos @ col_cos) > 1e-4:
        raise ValueError(
            "volume.affine: the i and j axes must be orthogonal (DICOM rows and columns are)"
        )
    normal = np.cross(row_cos, col_cos)
    spacing_between = abs(float(slice_step @ normal))
    if spacing_between == 0:
        raise ValueError("volume.affine: the k axis lies in the slice plane")
    return row_cos, col_cos, (dj, di), spacing_between, normal


def write_ct_series(
    volume: Volume,
    folder: str | os.PathLike,
    *,
    series_description: str = "planner synthetic head",
    series_number: int = 1,
    compress: str | None = None,
    file_names: str = "sequential",
    signed: bool | None = None,
    uid_seed: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``volume`` as a CT Image Storage series, one axial (or oblique) slice a file.

    Parameters
    ----------
    volume : Volume
        HU array ``(ni, nj, nk)`` (int or float; floats are rounded) and affine. Columns
        run along i, rows along j; slice k is placed at ``affine @ (0, 0, k, 1)``. The
        i and j axes must be orthogonal; the k axis may be oblique to them (a tilted
        series, written as such).
    folder : path
        Output folder, created; refused if it holds files unless ``overwrite``. Written
        atomically (a temporary folder moved into place).
    series_description : str
        SeriesDescription (and StudyDescription).
    series_number : int
        SeriesNumber.
    compress : {None, "rle", "jpeg2000", "deflate"}
        Lossless transfer syntax; None writes Explicit VR Little Endian.
    file_names : {"sequential", "random"}
        ``IM00001.dcm``, ... in slice order, or 16 hex digits without an extension in an
        order unrelated to position (as some scanners write them).
    signed : bool, optional
        Store int16 (PixelRepresentation 1) or uint16 (0). Default: uint16 when every
        value is at least -1024 HU, else int16. RescaleIntercept is -1024, slope 1.
    uid_seed : str, optional
        Derive every UID from this string (reproducible files). Default: fresh UIDs.
    overwrite : bool
        Replace a folder that already holds files.
    progress : callable, optional
        ``progress(done, total)`` after each file.

    Returns
    -------
    list of Path
        The files written, in slice order (k = 0 first).
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        PYDICOM_IMPLEMENTATION_UID,
        CTImageStorage,
        DeflatedExplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        JPEG2000Lossless,
        RLELossless,
        generate_uid,
    )

    if not isinstance(volume, Volume):
        raise TypeError(
            f"volume must be a planner.scan.volume.Volume, got {type(volume).__name__}"
        )
    if compress not in COMPRESSIONS:
        raise ValueError(f"compress must be one of {COMPRESSIONS}, got {compress!r}")
    if file_names not in ("sequential", "random"):
        raise ValueError(f"file_names must be 'sequential' or 'random', got {file_names!r}")
    row_cos, col_cos, pixel_spacing, slice_spacing, normal = _geometry(volume.affine)
    hu = np.asarray(volume.hu)
    if not np.issubdtype(hu.dtype, np.number) or np.iscomplexobj(hu):
        raise ValueError(f"volume.hu must be a real numeric array, got {hu.dtype}")
    ni, nj, nk = hu.shape
    if compress == "jpeg2000" and min(ni, nj) < 32:
        raise PlannerError(
            f"JPEG 2000 needs slices of at least 32 × 32 pixels, got {nj} × {ni}: "
            "use compress='rle' or None"
        )
    lo, hi = float(np.nanmin(hu)), float(np.nanmax(hu))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("volume.hu holds NaN or infinite values")
    if signed is None:
        signed = lo < _INTERCEPT
    dtype = np.dtype("<i2") if signed else np.dtype("<u2")
    info = np.iinfo(dtype)
    if round(lo) - _INTERCEPT < info.min or round(hi) - _INTERCEPT > info.max:
        raise PlannerError(
            f"HU range {lo:.0f}..{hi:.0f} does not fit {dtype.name} storage with intercept "
            f"{_INTERCEPT:.0f}: clip the volume or pass signed={not signed}"
        )
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PlannerError(f"{folder} exists and is not a folder: choose another output path")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise PlannerError(f"{folder} is not empty: choose an empty folder or pass overwrite")

    def uid(tag: str) -> str:
        return generate_uid(entropy_srcs=[uid_seed, tag]) if uid_seed else generate_uid()

    syntax = {
        None: ExplicitVRLittleEndian,
        "rle": RLELossless,
        "jpeg2000": JPEG2000Lossless,
        "deflate": DeflatedExplicitVRLittleEndian,
    }[compress]
    study_uid, series_uid, frame_uid = uid("study"), uid("series"), uid("frame")
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian  # set per file below
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "planner"
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = "20000101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = "120000"
    ds.AccessionNumber = ""
    ds.Modality = "CT"
    ds.Manufacturer = "planner synthetic"
    ds.ManufacturerModelName = "planner.samples"
    ds.InstitutionName = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = series_description
    ds.SeriesDescription = series_description
    ds.PatientName = "Anonymous^Sample"
    ds.PatientID = "SAMPLE"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.PatientIdentityRemoved = "YES"
    ds.BodyPartExamined = "HEAD"
    ds.SliceThickness = _ds(slice_spacing)
    ds.SpacingBetweenSlices = _ds(slice_spacing)
    ds.KVP = "80"
    ds.ConvolutionKernel = "BONE"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = int(series_number)
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [_ds(v) for v in (*row_cos, *col_cos)]
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = nj, ni
    ds.PixelSpacing = [_ds(pixel_spacing[0]), _ds(pixel_spacing[1])]  # [row, column]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if signed else 0
    ds.BurnedInAnnotation = "NO"
    ds.WindowCenter, ds.WindowWidth = "400", "2000"
    ds.RescaleIntercept = _ds(_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"

    names = [f"IM{k + 1:05d}.dcm" for k in range(nk)]
    sop_uids = [uid(f"image {k}") for k in range(nk)]
    if file_names == "random":
        names = [hashlib.sha256(u.encode()).hexdigest()[:16].upper() for u in sop_uids]
    paths = []
    with atomic_dir(folder, overwrite=True) as tmp:
        for k in range(nk):
            position = volume.affine[:3, :3] @ [0.0, 0.0, float(k)] + volume.affine[:3, 3]
            pixels = np.rint(hu[:, :, k].T) - _INTERCEPT  # (rows, columns)
            pixels = np.ascontiguousarray(pixels, dtype=dtype)
            ds.SOPInstanceUID = sop_uids[k]
            ds.file_meta.MediaStorageSOPInstanceUID = sop_uids[k]
            ds.InstanceNumber = k + 1
            ds.ImagePositionPatient = [_ds(v) for v in position]
            ds.SliceLocation = _ds(float(position @ normal))
            if compress in ("rle", "jpeg2000"):
                ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds.PixelData = pixels.tobytes()
                ds.compress(syntax, pixels, generate_instance_uid=False)
            else:
                ds.file_meta.TransferSyntaxUID = syntax
                ds.PixelData = pixels.tobytes()
                ds["PixelData"].VR = "OW"
            pydicom.dcmwrite(tmp / names[k], ds, enforce_file_format=True)
            paths.append(folder / names[k])
            if progress is not None:
                progress(k + 1, nk)
    return paths
