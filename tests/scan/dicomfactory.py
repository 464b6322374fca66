"""Write small, genuine DICOM CT series from arrays and geometry, for tests.

No patient data is written (a FileSet/DICOMDIR needs a PatientID: pass a synthetic one).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
TILT_DEG = -18.5
"""Gantry tilt of the Philips tilted phantom; :data:`TILTED` is its slice orientation."""
TILTED = (1.0, 0.0, 0.0, 0.0, np.cos(np.radians(TILT_DEG)), np.sin(np.radians(TILT_DEG)))


def normal_of(orientation: Sequence[float]) -> np.ndarray:
    """(3,) slice normal: row cosine × column cosine."""
    o = np.asarray(orientation, float)
    return np.cross(o[:3], o[3:])


def stack_positions(
    n: int,
    *,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    step: Sequence[float] | float = 1.0,
    orientation: Sequence[float] = AXIAL,
    depths: Sequence[float] | None = None,
) -> np.ndarray:
    """(n, 3) ImagePositionPatient values.

    ``step`` is a scalar (along the normal) or a (3,) vector per slice (a gantry-tilted stack
    moves along the table, not the normal). ``depths`` (n,) gives explicit positions along
    the stepping direction instead (uneven spacing), in units of ``step``.
    """
    step_vec = np.asarray(step, float)
    if step_vec.ndim == 0:
        step_vec = normal_of(orientation) * step_vec
    k = np.arange(n, dtype=float) if depths is None else np.asarray(depths, float)
    return np.asarray(origin, float) + k[:, None] * step_vec


def pixel_centres(
    position: Sequence[float],
    orientation: Sequence[float],
    pixel_spacing: Sequence[float],
    shape: tuple[int, int],
) -> np.ndarray:
    """(rows, cols, 3) LPS centres of one slice's pixels (DICOM C.7.6.2.1.1)."""
    o = np.asarray(orientation, float)
    j, i = np.mgrid[: shape[0], : shape[1]]
    return (
        np.asarray(position, float)
        + i[..., None] * pixel_spacing[1] * o[:3]
        + j[..., None] * pixel_spacing[0] * o[3:]
    )


def sample_field(
    field: Callable[[np.ndarray], np.ndarray],
    positions: np.ndarray,
    *,
    orientation: Sequence[float] = AXIAL,
    pixel_spacing: Sequence[float] = (1.0, 1.0),
    shape: tuple[int, int] = (16, 16),
) -> np.ndarray:
    """(n, rows, cols) values of ``field((..., 3) LPS points)`` at every pixel of every slice."""
    return np.stack(
        [field(pixel_centres(p, orientation, pixel_spacing, shape)) for p in positions]
    )


def phantom_hu(n: int = 12, shape: tuple[int, int] = (64, 64), *, seed: int = 0) -> np.ndarray:
    """(n, rows, cols) HU of a plain head-like phantom: air, a soft-tissue ellipse with a
    bone ring (1200 HU) that narrows towards the top, and 10 HU noise."""
    rows, cols = shape
    j, i = np.mgrid[:rows, :cols]
    out = np.full((n, rows, cols), -1000.0)
    for k in range(n):
        scale = 1.0 - 0.4 * k / max(n - 1, 1)
        r = np.hypot(
            (i - cols / 2) / (0.42 * cols * scale), (j - rows / 2) / (0.36 * rows * scale)
        )
        out[k][r < 1.0] = 1200.0
        out[k][r < 0.85] = 40.0
    noise = np.random.default_rng(seed).normal(0.0, 10.0, out.shape)
    return np.rint(out + noise)


def _base(sop_class: str, modality: str, series_uid: str, study_uid: str, **extra) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    for key, value in extra.items():
        if value is not None:
            setattr(ds, key, value)
    return ds


def write_series(
    folder: Path,
    hu: np.ndarray,
    *,
    positions: np.ndarray | None = None,
    orientation: Sequence[float] = AXIAL,
    pixel_spacing: Sequence[float] = (1.0, 1.0),
    slope: float = 1.0,
    intercept: float = -1024.0,
    unsigned: bool = False,
    names: Sequence[str] | None = None,
    instance_numbers: Sequence[int] | None = None,
    transfer_syntax: str | None = None,
    description: str = "SYNTHETIC CT",
    modality: str = "CT",
    sop_class: str = CTImageStorage,
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    series_uid: str | None = None,
    study_uid: str | None = None,
    series_number: int = 2,
    kernel: str | None = "FC30",
    gantry_tilt_deg: float | None = None,
    patient_id: str | None = None,
) -> list[Path]:
    """Write ``hu`` (n, rows, cols) as a CT series of n files in ``folder``; return the paths.

    Stored values are ``round((hu - intercept) / slope)`` as int16 (uint16 with
    ``unsigned``). ``positions`` (n, 3) default to 1 mm axial steps from the origin.
    ``transfer_syntax`` compresses each file with ``Dataset.compress``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hu = np.asarray(hu, float)
    n, rows, cols = hu.shape
    positions = stack_positions(n, orientation=orientation) if positions is None else positions
    names = names or [f"CT{k:04d}.dcm" for k in range(n)]
    numbers = instance_numbers or list(range(1, n + 1))
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_uid = generate_uid()
    raw = np.rint((hu - intercept) / slope)
    dtype = np.uint16 if unsigned else np.int16
    info = np.iinfo(dtype)
    if raw.min() < info.min or raw.max() > info.max:
        raise ValueError("hu does not fit the stored type with this slope/intercept")
    raw = raw.astype(dtype)
    paths = []
    for k in range(n):
        ds = _base(
            sop_class,
            modality,
            series_uid,
            study_uid,
            SeriesDescription=description,
            SeriesNumber=series_number,
            InstanceNumber=numbers[k],
            ImageType=list(image_type),
            ConvolutionKernel=kernel,
            GantryDetectorTilt=gantry_tilt_deg,
            PatientID=patient_id,
            PatientName="" if patient_id else None,
        )
        ds.FrameOfReferenceUID = frame_uid
        ds.ImagePositionPatient = [f"{v:.6f}" for v in positions[k]]
        ds.ImageOrientationPatient = [f"{v:.7f}" for v in orientation]
        ds.PixelSpacing = [f"{v:.6f}" for v in pixel_spacing]
        ds.SliceThickness = "1.0"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = rows, cols
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 0 if unsigned else 1
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
        ds.PixelData = raw[k].tobytes()
        if transfer_syntax is not None:
            ds.compress(transfer_syntax)
        path = folder / names[k]
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def write_enhanced_ct(
    path: Path,
    hu: np.ndarray,
    *,
    positions: np.ndarray | None = None,
    pixel_spacing: Sequence[float] = (0.8, 0.7),
    slope: float = 1.0,
    intercept: float = -1024.0,
    per_frame_rescale: bool = False,
    transfer_syntax: str | None = None,
) -> Path:
    """Write ``hu`` (n, rows, cols) as one Enhanced CT Image file of n frames.

    The geometry and rescale are in the functional groups, as newer scanners write them:
    the orientation, pixel spacing and (unless ``per_frame_rescale``) the rescale shared,
    each frame's position in its own group. ``positions`` (n, 3) default to 1 mm axial
    steps from the origin.
    """
    from pydicom.sequence import Sequence as Seq

    n, rows, cols = hu.shape
    positions = stack_positions(n) if positions is None else positions
    ds = _base(ENHANCED_CT, "CT", generate_uid(), generate_uid(), SeriesNumber=3)
    ds.SeriesDescription = "ENHANCED CT"
    ds.FrameOfReferenceUID = generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.NumberOfFrames = n
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1

    def item(**values) -> Dataset:
        d = Dataset()
        for key, value in values.items():
            setattr(d, key, value)
        return d

    def rescale(k: int) -> Dataset:
        return item(RescaleSlope=f"{slope:g}", RescaleIntercept=f"{intercept + 0 * k:g}")

    shared = item(
        PixelMeasuresSequence=Seq(
            [item(PixelSpacing=[f"{v:g}" for v in pixel_spacing], SliceThickness="1")]
        ),
        PlaneOrientationSequence=Seq([item(ImageOrientationPatient=list(AXIAL))]),
    )
    if not per_frame_rescale:
        shared.PixelValueTransformationSequence = Seq([rescale(0)])
    frames = []
    for k in range(n):
        group = item(PlanePositionSequence=Seq([item(ImagePositionPatient=list(positions[k]))]))
        if per_frame_rescale:
            group.PixelValueTransformationSequence = Seq([rescale(k)])
        frames.append(group)
    ds.SharedFunctionalGroupsSequence = Seq([shared])
    ds.PerFrameFunctionalGroupsSequence = Seq(frames)
    raw = np.rint((np.asarray(hu, float) - intercept) / slope).astype(np.int16)
    ds.PixelData = raw.tobytes()
    if transfer_syntax is not None:
        ds.compress(transfer_syntax)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_localizer(folder: Path, *, name: str = "LOC1") -> Path:
    """One LOCALIZER image (a coronal scout)."""
    hu = np.full((1, 32, 48), -1000.0)
    hu[0, 10:20, 10:30] = 40.0
    return write_series(
        folder,
        hu,
        orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        description="SCOUT",
        names=[name],
        series_number=1,
    )[0]


def write_secondary_capture(folder: Path, *, n: int = 3) -> list[Path]:
    """A Secondary Capture series (report pages), which must never be loaded as CT."""
    return write_series(
        folder,
        np.zeros((n, 24, 24)),
        sop_class=SecondaryCaptureImageStorage,
        image_type=("DERIVED", "SECONDARY"),
        description="Exam Summary",
        names=[f"SC{k}" for k in range(n)],
        series_number=99,
    )


def write_non_image(folder: Path, *, modality: str = "RTSTRUCT", name: str = "RS1") -> Path:
    """A DICOM object without pixel data (RT Structure Set or SR)."""
    sop = {
        "RTSTRUCT": "1.2.840.10008.5.1.4.1.1.481.3",
        "SR": "1.2.840.10008.5.1.4.1.1.88.11",
    }[modality]
    ds = _base(sop, modality, generate_uid(), generate_uid(), SeriesDescription="contours")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / name, enforce_file_format=True)
    return folder / name


def write_dicomdir(root: Path, files: Sequence[Path]) -> Path:
    """Write a standard DICOMDIR for ``files`` (copied into ``root`` by pydicom)."""
    from pydicom.fileset import FileSet

    fs = FileSet()
    for f in files:
        fs.add(pydicom.dcmread(f))
    fs.write(root)
    fs._stage["t"].cleanup()  # its staging folder, else removed (with a warning) at exit
    return Path(root) / "DICOMDIR"


def zip_folder(folder: Path, archive: Path, *, prefix: str = "export") -> Path:
    """Zip every file under ``folder`` into ``archive``, below a ``prefix`` folder."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(Path(folder).rglob("*")):
            if f.is_file():
                zf.write(f, f"{prefix}/{f.relative_to(folder).as_posix()}")
    return archive


def patch_element(path: Path, tag: int, value: bytes | None) -> Path:
    """Rewrite one short-VR element (2-byte length) of an explicit VR little-endian file.

    Writes any bytes, valid or not ("-1024HU" as a DS), which pydicom refuses to write;
    ``value=None`` removes the element. The element must be in the main data set.
    """
    path = Path(path)
    data = path.read_bytes()
    key = (tag >> 16).to_bytes(2, "little") + (tag & 0xFFFF).to_bytes(2, "little")
    at = data.find(key, 132 + 12)  # past the preamble and the meta group length
    while at >= 0 and not data[at + 4 : at + 6].isalpha():
        at = data.find(key, at + 1)
    if at < 0:
        raise ValueError(f"tag {tag:08X} not found in {path}")
    end = at + 8 + int.from_bytes(data[at + 6 : at + 8], "little")
    if value is None:
        element = b""
    else:
        value = value + b" " * (len(value) % 2)
        element = data[at : at + 6] + len(value).to_bytes(2, "little") + value
    path.write_bytes(data[:at] + element + data[end:])
    return path


def edit(path: Path, **attributes) -> Path:
    """Set (or with None, delete) attributes of a DICOM file through pydicom, in place."""
    ds = pydicom.dcmread(path)
    for keyword, value in attributes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)
    return Path(path)


def copy_series(source: Path, folder: Path) -> list[Path]:
    """Copy every file of the folder ``source`` into ``folder``; return the copies, sorted."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in sorted(Path(source).iterdir()):
        if f.is_file():
            (folder / f.name).write_bytes(f.read_bytes())
            out.append(folder / f.name)
    return out


def corrupt_pixel_data(path: Path, *, at: float, n_bytes: int = 2000, seed: int = 1) -> Path:
    """Overwrite ``n_bytes`` of the pixel data with random bytes, ``at`` (0-1) of the way in.

    On a compressed (encapsulated) file this leaves a codestream that may still decode,
    to noise.
    """
    ds = pydicom.dcmread(path)
    length = len(ds.PixelData)
    data = bytearray(Path(path).read_bytes())
    start = len(data) - length + int(at * length)
    noise = np.random.default_rng(seed).integers(0, 256, n_bytes, dtype=np.uint8).tobytes()
    data[start : start + n_bytes] = noise[: max(0, len(data) - start)]
    Path(path).write_bytes(bytes(data))
    return Path(path)


def series_from_template(template: Path, folder: Path, n: int = 3) -> list[Path]:
    """Copy one (possibly compressed) image ``n`` times as a 1 mm axial CT series.

    Keeps the template's encoded pixel data, so decoders can be tested on files that
    pydicom cannot write (JPEG). Patient attributes are removed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, paths = generate_uid(), []
    for k in range(n):
        ds = pydicom.dcmread(template)
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.Modality, ds.SeriesInstanceUID = "CT", series_uid
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.ImageOrientationPatient = list(AXIAL)
        ds.PixelSpacing = [1.0, 1.0]
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.save_as(folder / f"J{k}", enforce_file_format=True)
        paths.append(folder / f"J{k}")
    return paths
