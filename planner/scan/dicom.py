"""CT import: a folder, DICOMDIR, zip or file list -> series -> :class:`~planner.scan.volume.Volume`.

Headers are read once (``stop_before_pixels``) and grouped by SeriesInstanceUID; the
chosen series' pixel data are then read once, straight into a preallocated ``(nk, nj, ni)``
stack. Slices are ordered by their position along the slice normal, never by file name or
InstanceNumber. A gantry-tilted or unevenly spaced series is resampled onto a regular
orthogonal grid (linear interpolation; see :mod:`planner.scan.stack`) and the fact is
recorded in ``Volume.notes``.
Patient-identifying attributes are never read into any result.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from planner.errors import PlannerError
from planner.scan.stack import _GEOMETRY_PROBLEMS, _analyse, _Geometry, _regularise
from planner.scan.volume import Volume

__all__ = ["SeriesInfo", "choose_series", "list_series", "load_volume"]

Progress = Callable[[int, int], None]

_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"  # and its multi-frame variants .7.x
_DIRECTORY = "1.2.840.10008.1.3.10"
_NATIVE = {"1.2.840.10008.1.2": False, "1.2.840.10008.1.2.1": True}  # syntax -> explicit VR
_PIXEL_TAG = b"\xe0\x7f\x10\x00"
_EXPORT_HINT = "export the axial CT series (thin slices) from the scanner or PACS"


@dataclass(frozen=True)
class SeriesInfo:
    """Summary of one DICOM series, as :func:`list_series` finds it.

    Attributes
    ----------
    uid, description, modality, sop_class_uid : str
        SeriesInstanceUID, SeriesDescription, Modality and SOPClassUID (of the first file).
    number : int or None
        SeriesNumber.
    n_images : int
        Files with pixel data in the series.
    image_size : (2,) int
        ``(rows, columns)`` of the first image, ``(0, 0)`` without images.
    pixel_spacing_mm : (2,) float
        DICOM PixelSpacing: ``(row spacing, column spacing)``; NaN when absent.
    slice_spacing_mm : float
        Median gap between slice positions along the slice normal; NaN below 2 images.
    kernel : str
        ConvolutionKernel (reconstruction filter), "" when absent.
    gantry_tilt_deg : float
        Tilt derived from the slice positions (signed like GantryDetectorTilt), else the
        header's GantryDetectorTilt, else 0.
    plane : str
        "axial", "coronal" or "sagittal" (the patient axis nearest the slice normal), or "".
    is_localizer : bool
        ImageType contains LOCALIZER, or the series is a single image.
    usable : bool
        Whether :func:`load_volume` can load it as a volume.
    reason : str
        Why it is not usable ("" when usable).
    """

    uid: str
    description: str
    modality: str
    sop_class_uid: str
    number: int | None
    n_images: int
    image_size: tuple[int, int]
    pixel_spacing_mm: tuple[float, float]
    slice_spacing_mm: float
    kernel: str
    gantry_tilt_deg: float
    plane: str
    is_localizer: bool
    usable: bool
    reason: str = ""

    @property
    def is_secondary_capture(self) -> bool:
        """True for Secondary Capture objects (screenshots, report pages)."""
        return self.sop_class_uid.startswith(_SECONDARY_CAPTURE)

    @property
    def label(self) -> str:
        """Short name for messages: description plus the end of the UID."""
        return f"'{self.description or 'no description'}' (...{self.uid[-6:]})"


@dataclass(slots=True)
class _Image:
    path: Path
    sop_uid: str
    offset: int  # byte offset of the pixel data element (where stop_before_pixels stopped)
    syntax: str
    has_pixels: bool
    rows: int
    cols: int
    frames: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    slope: float
    intercept: float
    has_rescale: bool
    ipp: tuple[float, ...] | None
    iop: tuple[float, ...] | None
    spacing: tuple[float, ...] | None


@dataclass
class _Series:
    uid: str
    meta: dict
    images: list[_Image] = field(default_factory=list)


def _text(ds, tag: int) -> list[str]:
    """Values of an ASCII string attribute, decoded without pydicom's (slow) conversion."""
    elem = ds.get_item(tag)
    value = None if elem is None else elem.value
    if isinstance(value, bytes):
        value = value.decode("latin-1").strip(" \x00")
        return [v.strip(" \x00") for v in value.split("\\")] if value else []
    if value is None or value == "":
        return []
    return [str(value)] if isinstance(value, str | int | float) else [str(v) for v in value]


def _number(ds, tag: int, default: float | None = None) -> float | None:
    try:
        return float(_text(ds, tag)[0])
    except (IndexError, ValueError):
        return default


def _numbers(ds, tag: int, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in _text(ds, tag))
    except ValueError:
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


def _ushort(ds, tag: int, default: int) -> int:
    elem = ds.get_item(tag)
    value = None if elem is None else elem.value
    if isinstance(value, bytes):
        order = "little" if elem.is_little_endian else "big"
        return int.from_bytes(value[:2], order) if len(value) >= 2 else default
    return default if value is None or value == "" else int(value)


def _read_header(path: Path) -> tuple[str, dict, _Image] | str | None:
    """Parse one file's header: (series uid, series metadata, image), "dir" or None."""
    import pydicom

    try:
        with open(path, "rb") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            head = f.read(132)
            if head[128:132] == b"DICM":
                force = False
            elif len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00"):
                force = True  # no preamble, but starts with a group 0002/0008 tag
            else:
                return None
            f.seek(0)
            ds = pydicom.dcmread(f, stop_before_pixels=True, force=force)
            offset = f.tell()
            at_pixels = f.read(4) == _PIXEL_TAG
            meta = ds.get("file_meta") or {}
            if meta.get("MediaStorageSOPClassUID") == _DIRECTORY or 0x00041220 in ds:
                return "dir"
            slope = _number(ds, 0x00281053)
            bits = _ushort(ds, 0x00280100, 16)
            image = _Image(
                path=path,
                sop_uid="".join(_text(ds, 0x00080018)),
                offset=offset,
                syntax=str(meta.get("TransferSyntaxUID", "1.2.840.10008.1.2")),
                has_pixels=at_pixels or (0x00280010 in ds and f.read(1) != b""),
                rows=_ushort(ds, 0x00280010, 0),
                cols=_ushort(ds, 0x00280011, 0),
                frames=int(_number(ds, 0x00280008, 1)),
                samples=_ushort(ds, 0x00280002, 1),
                bits_allocated=bits,
                bits_stored=_ushort(ds, 0x00280101, bits),
                signed=_ushort(ds, 0x00280103, 0) == 1,
                slope=1.0 if slope is None else slope,
                intercept=_number(ds, 0x00281052, 0.0),
                has_rescale=slope is not None,
                ipp=_numbers(ds, 0x00200032, 3),
                iop=_numbers(ds, 0x00200037, 6),
                spacing=_numbers(ds, 0x00280030, 2),
            )
            number = _number(ds, 0x00200011)
            sop_class = _text(ds, 0x00080016) or [str(meta.get("MediaStorageSOPClassUID", ""))]
            info = {
                "description": str(ds.get("SeriesDescription", "") or ""),  # character set aware
                "modality": "".join(_text(ds, 0x00080060)),
                "sop_class": sop_class[0],
                "number": None if number is None else int(number),
                "kernel": "\\".join(_text(ds, 0x00181210)),
                "tilt": _number(ds, 0x00181120, 0.0),
                "image_type": [t.upper() for t in _text(ds, 0x00080008)],
            }
            return "".join(_text(ds, 0x0020000E)), info, image
    except Exception:  # anything pydicom cannot parse is "not DICOM"; counted, not fatal
        return None


def _describe(series: _Series) -> tuple[SeriesInfo, _Geometry | None]:
    meta, images = series.meta, [im for im in series.images if im.has_pixels]
    n = len(images)
    first = images[0] if images else series.images[0]
    is_sc = meta["sop_class"].startswith(_SECONDARY_CAPTURE)
    is_ct = meta["modality"] == "CT" or meta["sop_class"] == _CT_IMAGE
    geo = _analyse(images) if n >= 2 else None
    if n == 0:
        reason = f"no images ({meta['modality'] or 'unknown modality'})"
    elif is_sc:
        reason = "secondary capture (screenshots, not a scan)"
    elif "LOCALIZER" in meta["image_type"]:
        reason = "localizer (scout) image"
    elif not is_ct:
        reason = f"not CT ({meta['modality'] or 'unknown modality'})"
    elif any(im.frames > 1 or im.samples != 1 for im in images):
        reason = "multi-frame or colour images are not supported"
    elif n == 1:
        reason = "single slice"
    else:
        reason = geo.problem
    tilt = geo.tilt_deg if geo is not None and geo.tilted else meta["tilt"]
    normal = geo.axes[2] if geo is not None and geo.axes is not None else None
    if normal is None and first.iop is not None:
        normal = np.cross(first.iop[:3], first.iop[3:])
    plane = (
        "" if normal is None else ("sagittal", "coronal", "axial")[int(np.argmax(np.abs(normal)))]
    )
    info = SeriesInfo(
        uid=series.uid,
        description=meta["description"],
        modality=meta["modality"],
        sop_class_uid=meta["sop_class"],
        number=meta["number"],
        n_images=n,
        image_size=(first.rows, first.cols),
        pixel_spacing_mm=first.spacing or (np.nan, np.nan),
        slice_spacing_mm=geo.median_gap_mm if geo is not None else np.nan,
        kernel=meta["kernel"],
        gantry_tilt_deg=round(float(tilt), 2),
        plane=plane,
        is_localizer="LOCALIZER" in meta["image_type"] or n == 1,
        usable=not reason,
        reason=reason,
    )
    return info, geo


@contextlib.contextmanager
def _source(path) -> Iterator[tuple[list[Path], str]]:
    """Yield (candidate files, label for messages) for any accepted kind of input."""
    if isinstance(path, list | tuple):
        files = [Path(p) for p in path]
        missing = [p for p in files if not p.is_file()]
        if not files:
            raise PlannerError("no files were given; give a folder of DICOM files")
        if missing:
            raise PlannerError(f"{missing[0]} does not exist or is not a file")
        yield files, f"the {len(files)} given files"
        return
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a path or a list of paths, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise PlannerError(
            f"{path} does not exist; give a folder of DICOM files, a DICOMDIR or a .zip"
        )
    if path.is_dir():
        files = _walk(path)
        if not files:
            raise PlannerError(f"{path} is empty; give the folder that holds the CT images")
        yield files, str(path)
    elif zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="planner-dicom-") as tmp:
            try:
                with zipfile.ZipFile(path) as zf:
                    zf.extractall(tmp)  # extract() sanitises absolute and ".." member names
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise PlannerError(
                    f"cannot unpack {path}: {exc}; unzip it and give the folder"
                ) from exc
            files = _walk(Path(tmp))
            if not files:
                raise PlannerError(f"{path} is an empty zip archive")
            yield files, str(path)
    else:
        header = _read_header(path)
        yield (_dicomdir_files(path) if header == "dir" else [path]), str(path)


def _walk(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        files.extend(Path(root, name) for name in sorted(names))
    return files


def _dicomdir_files(path: Path) -> list[Path]:
    """Files a DICOMDIR refers to that exist; else every file in its folder."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = pydicom.dcmread(path).get("DirectoryRecordSequence", [])
            ids = [r.get("ReferencedFileID") for r in records]
        parts = [[i] if isinstance(i, str) else list(i) for i in ids if i]
        files = [f for f in (path.parent.joinpath(*p) for p in parts) if f.is_file()]
    except Exception:  # unreadable directory: fall back to the folder
        files = []
    return sorted(set(files)) or _walk(path.parent)


def _scan(files: list[Path], progress: Progress | None, total: int) -> tuple[dict, int, int]:
    """Group headers by series: ({uid: _Series}, non-DICOM files, duplicate copies)."""
    series: dict[str, _Series] = {}
    seen = set()
    skipped = copies = 0
    for done, path in enumerate(files, 1):
        found = _read_header(path)
        if found is None:
            skipped += 1
        elif found != "dir":
            uid, meta, image = found
            key = (uid, image.sop_uid, image.ipp)  # the same image copied twice
            copies += key in seen
            if key not in seen:
                seen.add(key)
                series.setdefault(uid, _Series(uid, meta)).images.append(image)
        if progress is not None:
            progress(done, total)
    return series, skipped, copies


def _nothing_found(label: str, n_files: int, skipped: int) -> PlannerError:
    if skipped == n_files:
        return PlannerError(
            f"no DICOM file in {label} ({n_files} checked); give the folder that holds the CT images"
        )
    return PlannerError(f"no DICOM images in {label}, only directory files; {_EXPORT_HINT}")


def list_series(path, *, progress: Progress | None = None) -> list[SeriesInfo]:
    """Find the DICOM series under ``path``.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        A folder (searched recursively; file names may lack extensions), a DICOMDIR file, a
        ``.zip`` archive, or a list of files.
    progress : callable(done: int, total: int), optional
        Called after each file header is read.

    Returns
    -------
    list of SeriesInfo
        One per SeriesInstanceUID, in series-number order. Files that are not DICOM are
        skipped.

    Raises
    ------
    PlannerError
        When ``path`` does not exist, is empty, or holds no DICOM file.
    """
    with _source(path) as (files, label):
        series, skipped, _ = _scan(files, progress, len(files))
    if not series:
        raise _nothing_found(label, len(files), skipped)
    infos = [_describe(s)[0] for s in series.values()]
    return sorted(infos, key=lambda s: (s.number is None, s.number or 0, s.uid))


def choose_series(infos: Sequence[SeriesInfo], *, source: str = "the input") -> SeriesInfo:
    """Pick the series to load: the thinnest complete axial CT volume.

    Localizers, secondary captures, single slices, non-CT and broken series are never
    chosen. Axial beats coronal/sagittal, then thinner slice spacing, then more slices.

    Raises
    ------
    PlannerError
        When no series is usable; the message says what was found in ``source``.
    """
    usable = [s for s in infos if s.usable]
    if usable:
        return min(
            usable,
            key=lambda s: (
                s.plane != "axial",
                round(s.slice_spacing_mm, 2),
                -s.n_images,
                s.pixel_spacing_mm[0] * s.pixel_spacing_mm[1],
            ),
        )
    if not infos:
        raise PlannerError(f"no DICOM series was found in {source}; {_EXPORT_HINT}")
    broken = [s for s in infos if s.n_images >= 2 and s.reason.startswith(_GEOMETRY_PROBLEMS)]
    if broken:
        raise _refusal(max(broken, key=lambda s: s.n_images))
    found = [_what(s) for s in infos]
    listed = found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]
    verb = "was" if len(found) == 1 else "were"
    raise PlannerError(f"only {listed} {verb} found in {source}; {_EXPORT_HINT}")


def _what(info: SeriesInfo) -> str:
    n = f"{info.n_images} image{'s' if info.n_images != 1 else ''}"
    if info.n_images == 0:
        return f"a non-image {info.modality or 'DICOM'} object"
    if info.is_secondary_capture:
        return f"a secondary capture ({n})"
    if info.reason.startswith("localizer"):
        return f"a localizer ({n})"
    if info.reason == "single slice":
        return f"a single {info.modality} slice"
    return f"the series {info.label} ({n}: {info.reason})"


def _refusal(info: SeriesInfo) -> PlannerError:
    if info.reason.startswith("missing"):
        hint = "copy or export the complete series again"
    elif info.reason.startswith(("several", "mixed")):
        hint = "export each stack as its own series, or choose another series"
    else:
        hint = _EXPORT_HINT
    return PlannerError(f"series {info.label} cannot be loaded as a volume: {info.reason}; {hint}")


def load_volume(
    path, *, series_uid: str | None = None, progress: Progress | None = None
) -> Volume:
    """Read a CT series into a :class:`~planner.scan.volume.Volume` in HU and LPS mm.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        As for :func:`list_series`.
    series_uid : str, optional
        SeriesInstanceUID (or a unique ending of it) to load; default: :func:`choose_series`.
    progress : callable(done: int, total: int), optional
        Called as headers and then slices are read; ``done == total`` at the end.

    Returns
    -------
    Volume
        ``hu`` (ni, nj, nk) int16 when RescaleSlope/Intercept are integers and the values fit,
        else float32; a transposed view of a C-ordered (nk, nj, ni) stack. ``affine`` maps
        (i, j, k, 1) to LPS mm and is orthogonal: tilted or unevenly spaced series are
        resampled (see ``notes``).

    Raises
    ------
    PlannerError
        For a missing/empty/non-DICOM input, no usable series, a series that is not one
        complete stack, or a truncated or undecodable file.
    """
    with _source(path) as (files, label):
        series, skipped, copies = _scan(files, progress, 2 * len(files))
        if not series:
            raise _nothing_found(label, len(files), skipped)
        described = {uid: _describe(s) for uid, s in series.items()}
        infos = [info for info, _ in described.values()]
        if series_uid is None:
            info = choose_series(infos, source=label)
        else:
            named = [s for s in infos if s.uid == series_uid] or [
                s for s in infos if len(series_uid) >= 4 and s.uid.endswith(series_uid)
            ]
            if len(named) != 1:
                known = ", ".join(s.label for s in infos)
                raise PlannerError(f"series {series_uid!r} is not in {label} (found {known})")
            info = named[0]
            if not info.usable:
                raise _refusal(info)
        geo = described[info.uid][1]
        images = [im for im in series[info.uid].images if im.has_pixels]
        images = [images[i] for i in geo.order]
        stack = _read_stack(images, progress, len(files))
    notes = []
    if skipped:
        notes.append(f"skipped {skipped} non-DICOM file{'s' if skipped > 1 else ''}")
    if copies:
        notes.append(f"ignored {copies} duplicate cop{'ies' if copies > 1 else 'y'} of images")
    if series_uid is None and len(infos) > 1:
        notes.append(f"chose series {info.label} of {len(infos)} series: thinnest axial CT")
    if not all(im.has_rescale for im in images):
        notes.append("no RescaleSlope/RescaleIntercept in some headers: stored values taken as HU")
    stack, affine, resample_note = _regularise(stack, images[0].ipp, geo)
    if resample_note:
        notes.append(resample_note)
    return Volume(
        hu=stack.transpose(2, 1, 0),
        affine=affine,
        series_uid=info.uid,
        description=info.description,
        modality=info.modality or "CT",
        notes=tuple(notes),
    )


def _read_stack(images: list[_Image], progress: Progress | None, n_files: int) -> np.ndarray:
    """Read and rescale the sorted slices into a C-ordered (nk, nj, ni) HU stack."""
    first = images[0]
    integral = all(
        float(im.slope).is_integer() and float(im.intercept).is_integer() for im in images
    )
    stack = np.empty((len(images), first.rows, first.cols), np.int16 if integral else np.float32)
    total = n_files + len(images)
    for k, im in enumerate(images):
        raw = _read_pixels(im)
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
            progress(n_files + k + 1, total)
    return stack


def _read_pixels(im: _Image) -> np.ndarray:
    """One slice's stored values, (rows, cols); native little-endian data read directly."""
    expected = im.rows * im.cols * im.bits_allocated // 8
    explicit = _NATIVE.get(im.syntax)
    if explicit is not None and im.bits_allocated in (8, 16) and im.frames == 1:
        with open(im.path, "rb") as f:
            f.seek(im.offset)
            head = f.read(12 if explicit else 8)
            if head[:4] == _PIXEL_TAG and (not explicit or head[4:6] in (b"OW", b"OB")):
                length = int.from_bytes(head[8:12] if explicit else head[4:8], "little")
                if length != 0xFFFFFFFF:
                    data = f.read(expected)
                    if min(length, len(data)) < expected:
                        raise PlannerError(
                            f"file {im.path.name} is truncated ({len(data)} of {expected} pixel "
                            "bytes); copy or export the series again"
                        )
                    kind = ("i" if im.signed else "u") + str(im.bits_allocated // 8)
                    raw = np.frombuffer(data, f"<{kind}").reshape(im.rows, im.cols)
                    return _mask_bits(raw, im)
    return _decode(im)


def _mask_bits(raw: np.ndarray, im: _Image) -> np.ndarray:
    """Sign-extend signed values narrower than BitsAllocated (as pydicom does)."""
    unused = im.bits_allocated - im.bits_stored
    if not im.signed or unused <= 0 or unused >= im.bits_allocated:
        return raw
    return (raw << unused) >> unused


def _decode(im: _Image) -> np.ndarray:
    """Compressed or unusual syntaxes: pydicom (pylibjpeg plugins for JPEG, J2K, RLE)."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = pydicom.dcmread(im.path).pixel_array
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PlannerError(
            f"cannot read the pixel data of file {im.path.name} ({detail}); "
            "the file may be truncated or use an unsupported compression"
        ) from exc
    if raw.shape != (im.rows, im.cols):
        raise PlannerError(
            f"file {im.path.name} holds an image of shape {raw.shape}, not one slice"
        )
    return raw
