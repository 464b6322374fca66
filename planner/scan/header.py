"""One DICOM file's header, read once and checked: :class:`ImageHeader` and :func:`read_header`.

The header is read up to the pixel data, from one bulk read of the file's first bytes
(:mod:`planner.scan.rawheader`), or by pydicom (``stop_before_pixels``) when the file is
damaged or unusual; what the image needs (matrix, bits, rescale, position, orientation,
spacing) is parsed without pydicom's slower value conversion and checked file by file: a
value that would give a silently wrong model (a negative or zero PixelSpacing or
RescaleSlope, a RescaleIntercept that is not a number, a declared matrix that does not
match the pixel data) is recorded as the file's ``problem``, which stops the series
loading with a message naming the file. A number written with a unit ("-1024HU")
is read with a note. Patient-identifying attributes are never read.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from planner.scan.frames import PER_FRAME, frame_values
from planner.scan.rawheader import NEED_MORE, RawFields, parse, text_values
from planner.scan.sources import FileRef, looks_like_dicom

__all__ = ["DIRECTORY", "HEADER_BYTES", "ImageHeader", "Unreadable", "read_header"]

DIRECTORY = "directory"
"""What :func:`read_header` returns for a DICOMDIR (it holds no image)."""

_DIRECTORY_SOP = "1.2.840.10008.1.3.10"
_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
_PIXEL_TAG = b"\xe0\x7f\x10\x00"
_DEFLATED = "1.2.840.10008.1.2.1.99"
_SERIES_UID_TAG = b"\x20\x00\x0e\x00"
_UID = re.compile(r"[0-9][0-9.]{0,63}")
HEADER_BYTES = 64 * 1024
"""Bytes read at once for a header (more when the header is longer)."""
_MAX_HEADER_BYTES = 16 * 1024**2
_MIN_PIXEL_MM, _MAX_PIXEL_MM = 0.01, 20.0  # a CT's pixels (cone-beam 0.08 mm, resampled 5 mm)
_NUMBER = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(.*)$")


@dataclass(slots=True)
class ImageHeader:
    """What one image file says about its pixels and where they lie.

    Attributes
    ----------
    ref : FileRef
        The file.
    offset : int
        Byte offset of the pixel data element (where ``stop_before_pixels`` stopped).
    syntax : str
        TransferSyntaxUID.
    has_pixels : bool
        Whether the file holds pixel data.
    pixel_length : int or None
        Length in bytes of native (uncompressed) pixel data; None when encapsulated.
    rows, cols, frames, samples, bits_allocated, bits_stored : int
        Image Pixel module values (0 rows/cols when absent).
    signed : bool
        PixelRepresentation 1.
    slope, intercept : float
        RescaleSlope and RescaleIntercept (1 and 0 when absent).
    has_rescale : bool
        Whether RescaleSlope is present.
    ipp, iop, spacing : tuple of float or None
        ImagePositionPatient (3,), ImageOrientationPatient (6,), PixelSpacing (2,) (row
        spacing, column spacing) in mm; None when absent or malformed.
    problem : str
        Why this file's pixels cannot be used ("" when they can).
    notes : list of str
        Header values read leniently (e.g. a number with a unit), without the file name.
    frame : int or None
        The frame of a multi-frame file (Enhanced CT) this image is, from 0; its position,
        orientation, spacing and rescale are that frame's. None for a single-frame file.
    """

    ref: FileRef
    sop_uid: str
    offset: int
    syntax: str
    has_pixels: bool
    pixel_length: int | None
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
    problem: str = ""
    notes: list[str] = field(default_factory=list)
    frame: int | None = None

    @property
    def name(self) -> str:
        """The file's name (and frame, from 1), for messages."""
        return self.ref.name if self.frame is None else f"{self.ref.name} (frame {self.frame + 1})"

    @property
    def frame_offset(self) -> int:
        """Bytes of native pixel data before this image's frame."""
        return (self.frame or 0) * self.frame_bytes

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame as declared by Rows, Columns, SamplesPerPixel, BitsAllocated."""
        return self.rows * self.cols * self.samples * self.bits_allocated // 8


@dataclass(frozen=True)
class Unreadable:
    """A file that starts like DICOM but whose header cannot be parsed."""

    ref: FileRef
    reason: str
    series_uid: str = ""  # recovered from the raw bytes when possible


def _number(ds, tag: int, default: float | None = None) -> float | None:
    try:
        return float(ds.text(tag)[0])
    except (IndexError, ValueError):
        return default


def _numbers(ds, tag: int, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in ds.text(tag))
    except ValueError:
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


def _lenient(ds, tag: int, keyword: str, notes: list[str]) -> tuple[float, ...] | str | None:
    """Decimal strings of ``tag``: floats, None when absent, or a problem (str).

    A value that starts with a number followed by other text ("-1024HU") is read as that
    number, with a note; one with no number at all is a problem.
    """
    values = ds.text(tag)
    if not values:
        return None
    out, shown = [], "\\".join(values)
    for v in values:
        try:
            out.append(float(v))
            continue
        except ValueError:
            pass
        match = _NUMBER.match(v)
        if match is None or not match.group(1):
            return f"{keyword} '{shown}' is not a number"
        out.append(float(match.group(1)))
        notes.append(f"{keyword} '{shown}' is not a valid DICOM number: read as {out[-1]:g}")
    if not all(np.isfinite(out)):
        return f"{keyword} '{shown}' is not a finite number"
    return tuple(out)


def _ushort(ds, tag: int, default: int) -> int:
    value = ds.value(tag)
    if isinstance(value, bytes):
        order = "little" if ds.little_endian(tag) else "big"
        return int.from_bytes(value[:2], order) if len(value) >= 2 else default
    return default if value is None or value == "" else int(value)


def _pixel_length(head: bytes, explicit: bool) -> int | None:
    """Length of the pixel data element whose header is ``head``; None if undefined."""
    if explicit and head[4:6] in (b"OB", b"OW"):
        length = int.from_bytes(head[8:12], "little")
    elif not explicit and len(head) >= 8:
        length = int.from_bytes(head[4:8], "little")
    else:
        return None
    return None if length == 0xFFFFFFFF else length


def _pixel_head(length: int) -> bytes:
    """The header of an explicit-VR little-endian pixel data element of ``length`` bytes."""
    return _PIXEL_TAG + b"OW\x00\x00" + length.to_bytes(4, "little")


def _recover_series_uid(raw: bytes) -> str:
    """SeriesInstanceUID found in the raw bytes of a damaged header ("" if not found)."""
    at = raw.find(_SERIES_UID_TAG)
    if at < 0:
        return ""
    if raw[at + 4 : at + 6] == b"UI":
        length, start = int.from_bytes(raw[at + 6 : at + 8], "little"), at + 8
    else:
        length, start = int.from_bytes(raw[at + 4 : at + 8], "little"), at + 8
    uid = raw[start : start + min(length, 64)].decode("latin-1").strip(" \x00")
    return uid if _UID.fullmatch(uid) else ""


class _PydicomFields:
    """The header as pydicom read it, seen as :class:`~planner.scan.rawheader.RawFields`."""

    def __init__(self, ds):
        self.ds = ds

    def value(self, tag: int):
        elem = self.ds.get_item(tag)
        return None if elem is None else elem.value

    def little_endian(self, tag: int) -> bool:
        return self.ds.get_item(tag).is_little_endian

    def has(self, tag: int) -> bool:
        return tag in self.ds

    def text(self, tag: int) -> list[str]:
        return text_values(self.value(tag))

    def description(self) -> str:
        return str(self.ds.get("SeriesDescription", "") or "")  # character set aware

    @property
    def media_sop_class(self):
        return (self.ds.get("file_meta") or {}).get("MediaStorageSOPClassUID")

    @property
    def syntax(self) -> str:
        meta = self.ds.get("file_meta") or {}
        return str(meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))


def read_header(
    ref: FileRef, *, fast: bool = True
) -> tuple[str, dict, ImageHeader] | Unreadable | str | None:
    """Parse one file's header.

    A well-formed file is read from one bulk read of its first bytes
    (:mod:`planner.scan.rawheader`); anything else by pydicom, which reads damaged and
    unusual files leniently. Both give the same answer on the files both read.

    Parameters
    ----------
    ref : FileRef
        The file.
    fast : bool
        Try the fast reader first (False: pydicom only).

    Returns
    -------
    (series uid, series metadata, ImageHeader), :class:`Unreadable`, :data:`DIRECTORY` or None
        None when the file is not DICOM.
    """
    fields = _read_fast(ref) if fast else None
    if fields is None or (_number(fields, 0x00280008, 1) or 1) > 1:  # frames: their groups
        return _read_pydicom(ref)
    end = fields.offset
    return _checked(ref, fields, end, fields.data[end : end + 12], len(fields.data) > end + 12)


def _read_fast(ref: FileRef) -> RawFields | None:
    """The header read by :func:`~planner.scan.rawheader.parse`, or None (use pydicom).

    Reads :data:`HEADER_BYTES` first, and eight times more each time the header runs past
    them, up to 16 MiB (a longer header is left to pydicom).
    """
    size = HEADER_BYTES
    try:
        while True:
            data = ref.head(size)
            if looks_like_dicom(data[:132]) is not True:
                return None
            whole = len(data) < size
            found = parse(data, whole=whole)
            if isinstance(found, RawFields) and not whole and len(data) <= found.offset + 12:
                found = NEED_MORE  # what follows the header is needed too
            if not isinstance(found, str) or size >= _MAX_HEADER_BYTES:
                break
            size *= 8
    except Exception:  # a file gone, a member that cannot be decompressed: pydicom says
        return None
    return found if isinstance(found, RawFields) else None


def _read_pydicom(ref: FileRef) -> tuple[str, dict, ImageHeader] | Unreadable | str | None:
    import pydicom

    try:
        kind = looks_like_dicom(ref.head(132))
    except Exception as exc:  # a member that cannot be decompressed, a file gone
        return Unreadable(ref, _first_line(exc))
    if kind is False:
        return None
    try:
        with ref.open() as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(f, stop_before_pixels=True, force=kind is None)
            offset = f.tell()
            head = f.read(12)
            more = f.read(1) != b""
            if ds.file_meta.get("TransferSyntaxUID") == _DEFLATED:
                # the file's bytes are compressed: the pixel data is seen in the data set
                f.seek(0)
                pixels = pydicom.dcmread(f, force=kind is None).get("PixelData")
                head = b"" if pixels is None else _pixel_head(len(pixels))
                more = pixels is not None
    except Exception as exc:  # a damaged header: say so if it is DICOM at all
        try:
            uid = _recover_series_uid(ref.head(65536))
        except Exception:  # a zip member whose stream breaks early
            uid = ""
        return Unreadable(ref, _first_line(exc), uid) if kind or uid else None
    with warnings.catch_warnings():  # pydicom warns about the values it converts
        warnings.simplefilter("ignore")
        return _checked(ref, _PydicomFields(ds), offset, head, more)


def _checked(ref: FileRef, fields, offset: int, head: bytes, more: bool):
    """:func:`_parse`, with values that cannot be read and missing series UIDs refused."""
    try:
        found = _parse(ref, fields, offset, head, more)
    except (TypeError, ValueError, OverflowError, NotImplementedError) as exc:  # a bad value
        uid = "".join(fields.text(0x0020000E))
        reason = f"a header value cannot be read: {_first_line(exc)}"
        return Unreadable(ref, reason, uid if _UID.fullmatch(uid) else "")
    if isinstance(found, tuple) and not found[0]:  # every DICOM object has a series
        return Unreadable(ref, "no SeriesInstanceUID: the header is damaged or cut short")
    if isinstance(found, tuple) and not _UID.fullmatch(found[0]):
        return Unreadable(ref, "its SeriesInstanceUID is not a UID: the header is damaged")
    return found


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__


def _parse(ref: FileRef, ds, offset: int, head: bytes, more: bool):
    """The header's series UID, series metadata and :class:`ImageHeader`, or DIRECTORY.

    ``ds`` is a :class:`~planner.scan.rawheader.RawFields` or a :class:`_PydicomFields`.
    """
    if ds.media_sop_class == _DIRECTORY_SOP or ds.has(0x00041220):
        return DIRECTORY
    syntax = ds.syntax
    media = ds.media_sop_class
    sop_class = (ds.text(0x00080016) or [str("" if media is None else media)])[0]
    at_pixels = head[:4] == _PIXEL_TAG
    bits = _ushort(ds, 0x00280100, 16)
    notes: list[str] = []
    slope = _lenient(ds, 0x00281053, "RescaleSlope", notes)
    intercept = _lenient(ds, 0x00281052, "RescaleIntercept", notes)
    spacing = _lenient(ds, 0x00280030, "PixelSpacing", notes)
    image = ImageHeader(
        ref=ref,
        sop_uid="".join(ds.text(0x00080018)),
        offset=offset,
        syntax=syntax,
        has_pixels=at_pixels or (ds.has(0x00280010) and more),
        pixel_length=(_pixel_length(head, syntax != "1.2.840.10008.1.2") if at_pixels else None),
        rows=_ushort(ds, 0x00280010, 0),
        cols=_ushort(ds, 0x00280011, 0),
        frames=int(_number(ds, 0x00280008, 1)),
        samples=_ushort(ds, 0x00280002, 1),
        bits_allocated=bits,
        bits_stored=_ushort(ds, 0x00280101, bits),
        signed=_ushort(ds, 0x00280103, 0) == 1,
        slope=slope[0] if isinstance(slope, tuple) else 1.0,
        intercept=intercept[0] if isinstance(intercept, tuple) else 0.0,
        has_rescale=slope is not None,
        ipp=_numbers(ds, 0x00200032, 3),
        iop=_numbers(ds, 0x00200037, 6),
        spacing=spacing if isinstance(spacing, tuple) and len(spacing) == 2 else None,
        notes=notes,
    )
    is_image = sop_class == _CT_IMAGE or any(ds.has(t) for t in (0x00280010, 0x00280100))
    image.problem = next(
        (p for p in (slope, intercept, spacing) if isinstance(p, str)), ""
    ) or _check(image, spacing, is_image)
    number = _number(ds, 0x00200011)
    info = {
        "description": ds.description(),
        "modality": "".join(ds.text(0x00080060)),
        "sop_class": sop_class,
        "number": None if number is None else int(number),
        "kernel": "\\".join(ds.text(0x00181210)),
        "tilt": _number(ds, 0x00181120, 0.0),
        "image_type": [t.upper() for t in ds.text(0x00080008)],
    }
    uid = "".join(ds.text(0x0020000E))
    if image.frames > 1 and isinstance(ds, _PydicomFields) and PER_FRAME in ds.ds:
        return uid, info, _frame_images(ds.ds, image, is_image)
    return uid, info, image


def _frame_images(ds, image: ImageHeader, is_image: bool) -> list[ImageHeader]:
    """One image per frame of an Enhanced CT file, each with its own groups' values."""
    images = []
    for k, values in enumerate(frame_values(ds)):
        ipp, iop, spacing = values["ipp"], values["iop"], values["spacing"]
        slope, intercept = values["slope"], values["intercept"]
        frame = replace(
            image,
            frame=k,
            ipp=ipp if isinstance(ipp, tuple) else None,
            iop=iop if isinstance(iop, tuple) else None,
            spacing=spacing if isinstance(spacing, tuple) else None,
            slope=slope[0] if isinstance(slope, tuple) else 1.0,
            intercept=intercept[0] if isinstance(intercept, tuple) else 0.0,
            has_rescale=slope is not None,
            notes=list(image.notes),
        )
        bad = [v for v in values.values() if isinstance(v, str)]
        frame.problem = (bad[0] if bad else "") or _check(frame, frame.spacing, is_image)
        images.append(frame)
    if len(images) != image.frames:
        image.problem = image.problem or (
            f"{len(images)} frames described, {image.frames} declared (NumberOfFrames)"
        )
        return [image]
    return images


def _check(im: ImageHeader, spacing, is_image: bool) -> str:
    """The first reason this file's pixels cannot be used as declared ("" if none)."""
    if not is_image:
        return ""
    if not im.has_pixels:
        return "pixel data unreadable (no pixel data after the header)"
    if im.rows == 0 or im.cols == 0:
        return f"pixel data unreadable (Rows {im.rows}, Columns {im.cols})"
    if im.bits_allocated not in (8, 16, 32) or not 0 < im.bits_stored <= im.bits_allocated:
        return (
            f"pixel data unreadable (BitsAllocated {im.bits_allocated}, "
            f"BitsStored {im.bits_stored})"
        )
    if im.has_rescale and im.slope <= 0:
        what = "zero: every pixel would read the same" if im.slope == 0 else "negative"
        return f"RescaleSlope {im.slope:g} is {what} (it would turn air into bone)"
    if isinstance(spacing, tuple) and min(spacing) <= 0:
        text = "\\".join(f"{v:g}" for v in spacing)
        what = "zero" if min(spacing) == 0 else "negative (the model would be mirrored)"
        return f"PixelSpacing {text} is {what}"
    if isinstance(spacing, tuple) and not (
        _MIN_PIXEL_MM <= min(spacing) and max(spacing) <= _MAX_PIXEL_MM
    ):
        text = "\\".join(f"{v:g}" for v in spacing)
        return (
            f"PixelSpacing {text} mm is not a CT's ({_MIN_PIXEL_MM:g}-{_MAX_PIXEL_MM:g} mm): "
            "the header is damaged"
        )
    if im.frames < 0:
        return f"NumberOfFrames {im.frames} is not a number of frames: the header is damaged"
    if im.pixel_length is not None:  # native pixel data (of every frame): its length is known
        frames = max(im.frames, 1)  # 0 read as 1, as pydicom does
        declared = im.frame_bytes * frames
        if not declared <= im.pixel_length <= declared + 1:  # + one byte of padding
            what = f"{frames} frames of " if frames > 1 else ""
            return (
                f"pixel data unreadable: the header declares {what}{im.cols}x{im.rows} pixels "
                f"of {im.bits_allocated} bits ({declared:,} bytes) but the file holds "
                f"{im.pixel_length:,} bytes"
            )
    return ""
