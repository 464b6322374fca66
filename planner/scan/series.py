"""Series found in the headers: grouping files by SeriesInstanceUID and describing each one.

:func:`scan_headers` reads every file's header once and groups the images by series,
counting files that are not DICOM, copies of the same image, and damaged files (attached to
their series when its UID can be recovered). :func:`describe` says what each series is
(:class:`SeriesInfo`) and whether it loads as a volume, and if not, why: naming the file
at fault when one is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from planner.scan import checks
from planner.scan.header import DIRECTORY, HEADER_BYTES, ImageHeader, Unreadable, read_header
from planner.scan.sources import PREFETCH_FILES, FileRef
from planner.scan.stack import Geometry, analyse, spacing_note

__all__ = ["HeaderScan", "Series", "SeriesInfo", "describe", "scan_headers"]

Progress = Callable[[int, int], None]

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
_NOT_CT = frozenset({"MR", "PT", "NM", "US"})  # imaging modalities whose values are not HU
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
"""SOP class of Secondary Capture images (and the start of its multi-frame variants)."""


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
        Image files in the series (with pixel data, or damaged ones that should have it).
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
        Why it is not usable ("" when usable); names the file when one file is at fault.
    broken : bool
        A CT volume that cannot load as it is (damaged file, slices that disagree, missing
        slices), as opposed to something that is not a volume at all (a localizer).
    notes : tuple of str
        What the reader found in the headers that the user should know.
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
    broken: bool = False
    notes: tuple[str, ...] = ()

    @property
    def is_secondary_capture(self) -> bool:
        """True for Secondary Capture objects (screenshots, report pages)."""
        return self.sop_class_uid.startswith(SECONDARY_CAPTURE)

    @property
    def label(self) -> str:
        """Short name for messages: description plus the end of the UID."""
        return f"'{self.description or 'no description'}' (...{self.uid[-6:]})"


@dataclass
class Series:
    uid: str
    meta: dict
    images: list[ImageHeader] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def pixel_images(self) -> list[ImageHeader]:
        """Images with pixel data, or damaged ones that should have it."""
        return [im for im in self.images if im.has_pixels or im.problem]


@dataclass
class HeaderScan:
    series: dict[str, Series]
    skipped: int = 0
    copies: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)  # of no known series


def scan_headers(files: list[FileRef], progress: Progress | None, total: int) -> HeaderScan:
    """Group headers by series; count what is not DICOM, copies and damaged files."""
    found = HeaderScan({})
    seen = set()
    for ref in files[:PREFETCH_FILES]:
        ref.prefetch(0, HEADER_BYTES)
    for done, ref in enumerate(files, 1):
        if done + PREFETCH_FILES <= len(files):
            files[done + PREFETCH_FILES - 1].prefetch(0, HEADER_BYTES)
        header = read_header(ref)
        if header is None:
            found.skipped += 1
        elif isinstance(header, Unreadable):
            found.unreadable.append(header)
        elif header != DIRECTORY:
            uid, meta, images = header
            for image in images if isinstance(images, list) else [images]:  # frames
                key = (uid, image.sop_uid, image.frame, image.ipp)  # an image copied twice
                found.copies += key in seen
                if key not in seen:
                    seen.add(key)
                    found.series.setdefault(uid, Series(uid, meta)).images.append(image)
        if progress is not None:
            progress(done, total)
    orphans = []
    for bad in found.unreadable:
        if bad.series_uid in found.series:
            found.series[bad.series_uid].unreadable.append(bad)
        else:
            orphans.append(bad)
    found.unreadable = orphans
    return found


def _file_problem(series: Series, images: list[ImageHeader]) -> str:
    """The first damaged file of the series, named ("" when none)."""
    bad = [f"{u.ref.name}: header damaged, pixel data unreadable ({u.reason})"
           for u in series.unreadable]  # fmt: skip
    bad += [f"{im.name}: {im.problem}" for im in images if im.problem]
    if not bad:
        return ""
    more = len(bad) - 1
    return bad[0] + (f" (and {more} more damaged file{'s' if more > 1 else ''})" if more else "")


def _why_not(meta: dict, images: list[ImageHeader]) -> str:
    """Why the series is not a CT volume at all ("" when it may be one)."""
    n = len(images)
    if n == 0:
        return f"no images ({meta['modality'] or 'unknown modality'})"
    if meta["sop_class"].startswith(SECONDARY_CAPTURE):
        return "secondary capture (screenshots, not a scan)"
    if "LOCALIZER" in meta["image_type"]:
        return "localizer (scout) image"
    if meta["modality"] in _NOT_CT or not (
        meta["modality"] == "CT" or meta["sop_class"] == CT_IMAGE
    ):  # a CT's storage class with Modality MR: the header disagrees with itself
        return f"not CT ({meta['modality'] or 'unknown modality'})"
    # a file damaged to declare frames it does not hold is named as damaged, not as this
    if any(
        ((im.frames > 1 and im.frame is None) or im.samples != 1) and not im.problem
        for im in images
    ):
        return "multi-frame or colour images are not supported"
    if n == 1:
        return "single slice"
    return ""


def describe(series: Series, allow_gaps: bool) -> tuple[SeriesInfo, Geometry | None]:
    meta, images = series.meta, series.pixel_images
    first = images[0] if images else series.images[0]
    geo, broken = None, False
    reason = _why_not(meta, images)
    if not reason:
        reason = _file_problem(series, images) or checks.header_disagreement(images)
        if not reason:
            geo = analyse(images, allow_gaps=allow_gaps)
            reason = geo.problem
        broken = bool(reason)
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
        n_images=len(images),
        image_size=(first.rows, first.cols),
        pixel_spacing_mm=first.spacing or (np.nan, np.nan),
        slice_spacing_mm=geo.median_gap_mm if geo is not None else np.nan,
        kernel=meta["kernel"],
        gantry_tilt_deg=round(float(tilt), 2),
        plane=plane,
        is_localizer="LOCALIZER" in meta["image_type"] or len(images) == 1,
        usable=not reason,
        reason=reason,
        broken=broken,
        notes=tuple(_header_notes(images, geo)) if not reason else (),
    )
    return info, geo


def _header_notes(images: list[ImageHeader], geo: Geometry | None) -> list[str]:
    """Lenient readings (one note per kind, counting files), rescale and gap notes."""
    counts = Counter(note for im in images for note in im.notes)
    firsts = {}
    for im in images:
        for note in im.notes:
            firsts.setdefault(note, im.name)
    notes = [
        f"{note} (in {firsts[note]}" + (f" and {n - 1} more files)" if n > 1 else ")")
        for note, n in counts.items()
    ]
    rescale = checks.rescale_note(images)
    if rescale:
        notes.append(rescale)
    if geo is not None and spacing_note(geo):
        notes.append(spacing_note(geo))
    if geo is not None:
        notes += [f"missing slices allowed: {gap}, filled by linear interpolation"
                  for gap in geo.gaps]  # fmt: skip
    return notes
