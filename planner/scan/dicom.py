"""CT import: a folder, DICOMDIR, zip or file list -> series -> :class:`~planner.scan.volume.Volume`.

Headers are read once, up to the pixel data (:mod:`planner.scan.header`), and grouped by
SeriesInstanceUID; every header is checked, and every slice of the chosen series must agree
with the others (:mod:`planner.scan.checks`). The chosen series' pixel data are then read
once, straight into a preallocated ``(nk, nj, ni)`` stack (:mod:`planner.scan.pixels`),
checked slice by slice and as a whole for values that are not HU. Slices are ordered by
their position along the slice normal, never by file name or InstanceNumber; a
gantry-tilted or unevenly spaced series is resampled onto a regular orthogonal grid
(:mod:`planner.scan.stack`). A file that cannot be used is named, never dropped in silence;
everything the reader decided is returned in ``Volume.notes``.
Patient-identifying attributes are never read into any result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from planner.errors import PlannerError
from planner.scan import checks
from planner.scan.header import ImageHeader
from planner.scan.pixels import read_stack, stack_bytes_problem
from planner.scan.series import HeaderScan, SeriesInfo, describe, scan_headers
from planner.scan.sources import MAX_UNZIPPED_BYTES, open_source
from planner.scan.stack import regularise
from planner.scan.volume import Volume

__all__ = ["SeriesInfo", "choose_series", "list_series", "load_volume"]

Progress = Callable[[int, int], None]

_EXPORT_HINT = "export the axial CT series (thin slices) from the scanner or PACS"
_FILE_HINT = "copy or export the series again"
_ODD_FILE_HINT = "copy or export the series again, or remove the file if it is not of this series"


def _nothing_found(label: str, files: list, scan: HeaderScan) -> PlannerError:
    n_files = len(files)
    archives = [f.name for f in files if f.name.lower().endswith(".zip")]
    if archives and scan.skipped == n_files:  # a zip in the zip (or in the folder)
        return PlannerError(
            f"no DICOM file in {label}, but it holds {archives[0]}"
            f"{f' and {len(archives) - 1} more archives' if len(archives) > 1 else ''}: "
            "unzip it and give the folder, or give that archive"
        )
    if scan.unreadable:
        bad = scan.unreadable[0]
        return PlannerError(
            f"no readable DICOM image in {label}: {bad.ref.name} looks like DICOM but cannot "
            f"be read ({bad.reason}); copy or export the series again"
        )
    if scan.skipped == n_files:
        return PlannerError(
            f"no DICOM file in {label} ({n_files} checked); give the folder that holds the CT images"
        )
    return PlannerError(f"no DICOM images in {label}, only directory files; {_EXPORT_HINT}")


def list_series(
    path,
    *,
    allow_gaps: bool = False,
    progress: Progress | None = None,
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> list[SeriesInfo]:
    """Find the DICOM series under ``path``.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        A folder (searched recursively; file names may lack extensions), a DICOMDIR file, a
        ``.zip`` archive (read member by member, never unpacked to disk), or a list of files.
    allow_gaps : bool
        Count a series with missing slices as usable (they would be interpolated).
    progress : callable(done: int, total: int), optional
        Called after each file header is read.
    max_unzipped_bytes : int
        Refuse a zip archive that would expand beyond this many bytes.

    Returns
    -------
    list of SeriesInfo
        One per SeriesInstanceUID, in series-number order. Files that are not DICOM are
        skipped.

    Raises
    ------
    PlannerError
        When ``path`` does not exist, is empty, holds no DICOM file, or is a zip archive
        beyond the limits.
    """
    with open_source(path, max_unzipped_bytes=max_unzipped_bytes) as (files, label):
        scan = scan_headers(files, progress, len(files))
    if not scan.series:
        raise _nothing_found(label, files, scan)
    infos = [describe(s, allow_gaps)[0] for s in scan.series.values()]
    return sorted(infos, key=lambda s: (s.number is None, s.number or 0, s.uid))


def _rank(info: SeriesInfo) -> tuple:
    return (
        info.plane != "axial",
        round(info.slice_spacing_mm, 2) if info.slice_spacing_mm == info.slice_spacing_mm else 1e9,
        -info.n_images,
        info.pixel_spacing_mm[0] * info.pixel_spacing_mm[1],
    )


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
        return min(usable, key=_rank)
    if not infos:
        raise PlannerError(f"no DICOM series was found in {source}; {_EXPORT_HINT}")
    broken = [s for s in infos if s.broken and s.n_images >= 2]
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


def _refusal(info: SeriesInfo, reason: str = "", hint: str = "") -> PlannerError:
    reason = reason or info.reason
    if hint:
        pass
    elif reason.startswith("missing"):
        hint = "copy or export the complete series again, or allow gaps (--allow-gaps)"
    elif reason.startswith("several"):
        hint = "export each stack as its own series, or choose another series"
    elif reason.startswith("mixed"):
        hint = _ODD_FILE_HINT
    elif reason.startswith(("no position", "an invalid")):
        hint = _EXPORT_HINT
    elif info.broken or reason != info.reason:
        hint = _FILE_HINT
    else:
        hint = _EXPORT_HINT
    return PlannerError(f"series {info.label} cannot be loaded as a volume: {reason}; {hint}")


def load_volume(
    path,
    *,
    series_uid: str | None = None,
    allow_gaps: bool = False,
    progress: Progress | None = None,
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> Volume:
    """Read a CT series into a :class:`~planner.scan.volume.Volume` in HU and LPS mm.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        As for :func:`list_series`.
    series_uid : str, optional
        SeriesInstanceUID (or a unique ending of it) to load; default: :func:`choose_series`.
    allow_gaps : bool
        Load a series with missing slices, filling each gap by linear interpolation (noted);
        by default such a series is refused, naming the files either side of the gap.
    progress : callable(done: int, total: int), optional
        Called as headers and then slices are read; ``done == total`` at the end.
    max_unzipped_bytes : int
        Refuse a zip archive that would expand beyond this many bytes.

    Returns
    -------
    Volume
        ``hu`` (ni, nj, nk) int16 when RescaleSlope/Intercept are integers and the values fit,
        else float32; a transposed view of a C-ordered (nk, nj, ni) stack. ``affine`` maps
        (i, j, k, 1) to LPS mm and is orthogonal: tilted or unevenly spaced series are
        resampled. ``notes`` says everything the reader decided that the user should know.

    Raises
    ------
    PlannerError
        For a missing/empty/non-DICOM input, no usable series, a series that is not one
        complete stack, a damaged file (named), slices that disagree (the odd file named), or
        pixel values that are not HU.
    """
    with open_source(path, max_unzipped_bytes=max_unzipped_bytes) as (files, label):
        scan = scan_headers(files, progress, 2 * len(files))
        if not scan.series:
            raise _nothing_found(label, files, scan)
        described = {uid: describe(s, allow_gaps) for uid, s in scan.series.items()}
        infos = [info for info, _ in described.values()]
        try:
            info = _pick(infos, series_uid, label)
        except PlannerError as exc:
            if not scan.unreadable:
                raise
            bad = scan.unreadable[0]
            raise PlannerError(
                f"{exc}; {bad.ref.name} looks like DICOM but could not be read ({bad.reason})"
            ) from exc
        geo = described[info.uid][1]
        series_images = scan.series[info.uid].pixel_images
        images = [series_images[i] for i in geo.order]
        problem = stack_bytes_problem(images)
        if problem:
            raise _refusal(info, problem)
        stack = read_stack(images, progress, len(files))
    notes = _load_notes(scan, infos, info, series_uid is None)
    notes += _check_pixels(stack, images, info)
    stack, affine, resample_note = regularise(stack, images[0].ipp, geo)
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


def _pick(infos: list[SeriesInfo], series_uid: str | None, label: str) -> SeriesInfo:
    """The series to load: chosen, or the one named by (the end of) its UID."""
    if series_uid is None:
        return choose_series(infos, source=label)
    named = [s for s in infos if s.uid == series_uid] or [
        s for s in infos if len(series_uid) >= 4 and s.uid.endswith(series_uid)
    ]
    if len(named) != 1:
        known = ", ".join(s.label for s in infos)
        raise PlannerError(f"series {series_uid!r} is not in {label} (found {known})")
    if not named[0].usable:
        raise _refusal(named[0])
    return named[0]


def _load_notes(scan: HeaderScan, infos: list[SeriesInfo], info: SeriesInfo, chosen: bool) -> list:
    """What the reader decided about the input as a whole, then about this series."""
    notes = []
    if scan.skipped:
        notes.append(f"skipped {scan.skipped} non-DICOM file{'s' if scan.skipped > 1 else ''}")
    for bad in scan.unreadable:
        notes.append(
            f"{bad.ref.name} looks like DICOM but cannot be read ({bad.reason}); left out: "
            "if it is a slice of this scan, copy or export the series again"
        )
    if scan.copies:
        n = scan.copies
        notes.append(f"ignored {n} duplicate cop{'ies' if n > 1 else 'y'} of images")
    if chosen and len(infos) > 1:
        notes.append(f"chose series {info.label} of {len(infos)} series: thinnest axial CT")
        for other in infos:
            if other.broken and other.plane == "axial" and _rank(other) < _rank(info):
                notes.append(f"series {other.label} was not used: {other.reason}")
    images = scan.series[info.uid].pixel_images
    if not all(im.has_rescale for im in images):
        notes.append("no RescaleSlope/RescaleIntercept in some headers: stored values taken as HU")
    # the resampling is reported once done, with the spacing it made
    return notes + [n for n in info.notes if not n.startswith("uneven slice spacing")]


def _check_pixels(stack: np.ndarray, images: list[ImageHeader], info: SeriesInfo) -> list:
    """Refuse slices that jump away from their neighbours, and values that are not HU."""
    sample = checks.sample(stack)
    odd = checks.slice_outliers(sample, checks.roughness(stack))
    refused = [o for o in odd if o[3]]
    if refused:
        k, share, ratio, _ = refused[0]
        noise = f", {ratio:.1f} times as rough as theirs" if ratio > checks.NOISE_ROUGHNESS else ""
        more = f" (and {len(refused) - 1} more slices)" if len(refused) > 1 else ""
        raise _refusal(
            info,
            f"{images[k].name}: pixel values implausible: {share:.0%} of its pixels differ "
            f"by over {checks.JUMP_HU:.0f} HU from both neighbouring slices, which agree with "
            f"each other{noise} (corrupt pixel data, or a header that disagrees){more}",
        )
    notes = [
        f"{images[k].name}: {share:.0%} of its pixels differ by over {checks.JUMP_HU:.0f} HU "
        "from both neighbouring slices, which agree with each other: look at this slice "
        "(partly corrupt pixel data, or a slice-thin horizontal structure)"
        for k, share, _, _ in odd
    ]
    problem, hu_notes = checks.hu_problems(sample)
    if problem:
        raise _refusal(info, problem, "check that the series is a CT, or " + _EXPORT_HINT)
    return notes + hu_notes
