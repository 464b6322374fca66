"""Bone labels made elsewhere: NIfTI, NRRD or DICOM-SEG label volumes onto the CT's grid.

Many teams segment in 3D Slicer's Segment Editor, ITK-SNAP or a neural network. A label
volume they export is read here (:func:`read_label_volume`: NIfTI through nibabel, whose
affine is RAS and is turned to LPS; NRRD through pynrrd, in the space its header names;
DICOM-SEG through pydicom), mapped onto the CT's voxel grid by nearest neighbour
(:func:`labels_on_grid`; refused with one line when it does not lie on the scan), and
turned into the skull and mandible labels the meshing uses (:func:`bone_labels_from_file`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from planner.errors import PlannerError
from planner.scan.volume import Volume, apply_affine

__all__ = [
    "LabelVolume",
    "bone_labels_from_file",
    "labels_on_grid",
    "parse_label_values",
    "read_label_volume",
]

_NAMES = {"skull": 1, "mandible": 2}
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
_MIN_INSIDE = 0.9  # share of the labelled voxels that must fall inside the scan


@dataclass(frozen=True, eq=False)
class LabelVolume:
    """A label volume read from a file.

    Attributes
    ----------
    labels : (ni, nj, nk) int array
        Label values (0 none).
    affine : (4, 4) float, or (n, 4, 4) for a DICOM-SEG
        Index -> LPS mm (a DICOM-SEG: one per frame, (frame, row, column) -> LPS mm).
    names : dict of int to str
        Segment names the file gives, where it gives any.
    """

    labels: np.ndarray
    affine: np.ndarray
    names: dict[int, str]


def parse_label_values(text: str) -> dict[str, int]:
    """``"skull=1,mandible=2"`` -> ``{"skull": 1, "mandible": 2}`` (names: skull, mandible).

    Raises
    ------
    PlannerError
        On a malformed entry, an unknown name, a value below 1, or one value given twice.
    """
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not eq or name not in _NAMES or not value.strip().isdigit():
            raise PlannerError(
                f"--label-values: cannot read {part!r}; write NAME=VALUE pairs such as "
                "skull=1,mandible=2 (names: skull, mandible)"
            )
        out[name] = int(value)
    if not out or min(out.values()) < 1 or len(set(out.values())) != len(out):
        raise PlannerError(
            f"--label-values {text!r}: give each of skull, mandible a distinct value >= 1"
        )
    return out


def read_label_volume(path: str | Path) -> LabelVolume:
    """Read a NIfTI (.nii, .nii.gz), NRRD (.nrrd, .seg.nrrd) or DICOM-SEG label volume.

    Raises
    ------
    PlannerError
        If the file is missing, of another kind, or not a 3-D label volume.
    """
    path = Path(path)
    if not path.is_file():
        raise PlannerError(f"--labels: {path} is not a file")
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return _read_nifti(path)
    if name.endswith(".nrrd"):
        return _read_nrrd(path)
    return _read_dicom_seg(path)


def _three_d(data: np.ndarray, path: Path) -> np.ndarray:
    data = np.asarray(data)
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise PlannerError(
            f"--labels: {path.name} holds a {data.ndim}-D array; export the segmentation "
            "as a 3-D label map (in 3D Slicer: Export to labelmap node, then save it)"
        )
    if not (np.issubdtype(data.dtype, np.integer) or np.all(np.mod(data, 1) == 0)):
        raise PlannerError(f"--labels: {path.name} holds fractional values, not labels")
    return data.astype(np.int32)


def _read_nifti(path: Path) -> LabelVolume:
    import nibabel as nib

    try:
        img = nib.load(str(path))
    except Exception as err:  # nibabel raises several kinds for a damaged file
        raise PlannerError(f"--labels: {path.name} is not a readable NIfTI file ({err})") from err
    data = _three_d(np.asanyarray(img.dataobj), path)
    return LabelVolume(data, _RAS_TO_LPS @ np.asarray(img.affine, dtype=float), {})


def _read_nrrd(path: Path) -> LabelVolume:
    import nrrd

    try:
        data, header = nrrd.read(str(path))
    except Exception as err:  # pynrrd raises NRRDError and others
        raise PlannerError(f"--labels: {path.name} is not a readable NRRD file ({err})") from err
    directions = np.asarray(header.get("space directions", np.eye(3)), dtype=float)
    names = _segment_names(header)
    if data.ndim == 4 and directions.shape == (4, 3):
        # a Slicer .seg.nrrd whose first axis is its layers ('none' direction): segments
        # that overlap lie in layers of their own
        directions = directions[1:]
        if data.shape[0] == 1:
            data = data[0]
        elif names:
            data, names = _merge_layers(data, names)
    data = _three_d(data, path)
    origin = np.asarray(header.get("space origin", np.zeros(3)), dtype=float)
    if directions.shape != (3, 3) or not np.all(np.isfinite(directions)):
        raise PlannerError(f"--labels: {path.name} has no 3-D 'space directions' in its header")
    affine = np.eye(4)
    affine[:3, :3] = directions.T  # each row of 'space directions' is one axis's step
    affine[:3, 3] = origin
    space = str(header.get("space", "left-posterior-superior")).lower()
    if space in ("right-anterior-superior", "ras"):
        affine = _RAS_TO_LPS @ affine
    elif space not in ("left-posterior-superior", "lps"):
        raise PlannerError(
            f"--labels: {path.name} is in space {space!r}; planner reads LPS or RAS NRRD files"
        )
    return LabelVolume(data, affine, {value: name for (_, value), name in names.items()})


def _segment_names(header: dict) -> dict[tuple[int, int], str]:
    """Slicer's segments (``SegmentN_Layer``, ``_LabelValue``, ``_Name``), in file order:
    ``{(layer, value): name}``."""
    names = {}
    for n in range(len(header)):
        value = header.get(f"Segment{n}_LabelValue")
        if value is None:
            break
        layer = int(str(header.get(f"Segment{n}_Layer", "0")).strip() or 0)
        names[(layer, int(value))] = str(header.get(f"Segment{n}_Name", f"Segment{n}"))
    return names


def _merge_layers(layers: np.ndarray, names: dict) -> tuple[np.ndarray, dict]:
    """A Slicer segmentation of several layers as one label map: segment ``n`` (in file
    order) gets value ``n + 1``; where segments overlap, the later one is kept."""
    out = np.zeros(layers.shape[1:], dtype=np.int32)
    merged = {}
    for n, ((layer, value), name) in enumerate(names.items()):
        if 0 <= layer < len(layers):
            out[layers[layer] == value] = n + 1
            merged[(0, n + 1)] = name
    return out, merged


def _read_dicom_seg(path: Path) -> LabelVolume:
    """A DICOM-SEG: each frame's pixels with their segment number, and each frame's place.

    The result's ``labels`` is (n_frames, rows, cols) and its ``affine`` one per frame:
    :func:`labels_on_grid` maps every frame by its own position.
    """
    import pydicom

    try:
        ds = pydicom.dcmread(str(path))
    except Exception as err:  # pydicom raises InvalidDicomError and others
        raise PlannerError(
            f"--labels: {path.name} is not NIfTI (.nii/.nii.gz), NRRD (.nrrd) or DICOM ({err})"
        ) from err
    if getattr(ds, "Modality", "") != "SEG":
        raise PlannerError(
            f"--labels: {path.name} is a DICOM {getattr(ds, 'Modality', '?')} file, not a "
            "segmentation (SEG)"
        )
    frames = np.asarray(ds.pixel_array)
    if frames.ndim == 2:
        frames = frames[None]
    if getattr(ds, "SegmentationType", "BINARY") == "FRACTIONAL":
        frames = frames > 0.5 * float(getattr(ds, "MaximumFractionalValue", 255))
    shared = ds.SharedFunctionalGroupsSequence[0]
    names = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.SegmentSequence}
    per_frame = ds.PerFrameFunctionalGroupsSequence
    out = np.zeros(frames.shape, dtype=np.int32)
    affines = []
    for f, group in enumerate(per_frame):
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        out[f][frames[f] > 0] = number
        plane = group if "PlaneOrientationSequence" in group else shared
        iop = np.asarray(plane.PlaneOrientationSequence[0].ImageOrientationPatient, float)
        measures = group if "PixelMeasuresSequence" in group else shared
        dr, dc = (float(v) for v in measures.PixelMeasuresSequence[0].PixelSpacing)
        ipp = np.asarray(group.PlanePositionSequence[0].ImagePositionPatient, float)
        a = np.eye(4)  # (frame, row, column) -> LPS for this frame
        a[:3, 1] = iop[3:] * dr
        a[:3, 2] = iop[:3] * dc
        a[:3, 0] = np.cross(iop[:3], iop[3:])
        a[:3, 3] = ipp - a[:3, 0] * f
        affines.append(a)
    return LabelVolume(out, np.stack(affines), names)


def labels_on_grid(source: LabelVolume, volume: Volume, *, name: str = "") -> np.ndarray:
    """The label values on the CT's voxel grid (nearest neighbour), int32 of ``volume.shape``.

    Raises
    ------
    PlannerError
        If fewer than 90% of the labelled voxels fall inside the scan: the label volume
        was made on another series, or its orientation is not what its header says.
    """
    to_ct = np.linalg.inv(volume.affine)
    shape = np.array(volume.shape)
    if source.affine.ndim == 3:  # DICOM-SEG: frame by frame
        out = np.zeros(volume.shape, dtype=np.int32)
        frame_ijk = np.argwhere(source.labels > 0)
        inside = 0
        for f in np.unique(frame_ijk[:, 0]):
            rc = frame_ijk[frame_ijk[:, 0] == f]
            ijk = np.rint(apply_affine(to_ct @ source.affine[f], rc.astype(float))).astype(int)
            ok = np.all((ijk >= 0) & (ijk < shape), axis=1)
            inside += int(ok.sum())
            out[tuple(ijk[ok].T)] = source.labels[tuple(rc[ok].T)]
        total = len(frame_ijk)
    else:
        m = to_ct @ source.affine  # label index -> CT index
        labelled = np.argwhere(source.labels > 0)
        total = len(labelled)
        stride = max(1, total // 200_000)
        ct_ijk = apply_affine(m, labelled[::stride].astype(float))
        inside = int(np.all((ct_ijk > -0.5) & (ct_ijk < shape - 0.5), axis=1).sum()) * stride
        back = np.linalg.inv(m)  # CT index -> label index, as affine_transform wants
        # padded by a voxel of 0: a CT voxel on the label grid's first or last plane, which
        # rounding puts a hair outside it, still takes its label (a cropped Slicer file)
        out = ndi.affine_transform(
            np.pad(source.labels, 1),
            back[:3, :3],
            offset=back[:3, 3] + 1.0,
            output_shape=volume.shape,
            order=0,
            mode="constant",
            cval=0,
        )
    if total == 0:
        raise PlannerError(f"--labels: {name or 'the label volume'} holds no labelled voxel")
    if inside < _MIN_INSIDE * total:
        raise PlannerError(
            f"--labels: {name or 'the label volume'} does not lie on this scan (only "
            f"{100.0 * inside / total:.0f}% of its labelled voxels fall inside it); export "
            "it from a segmentation of this same series"
        )
    return out


def bone_labels_from_file(
    volume: Volume,
    path: str | Path,
    values: dict[str, int] | None = None,
    *,
    threshold_hu: float | None = None,
):
    """Skull and mandible labels from a label volume made elsewhere.

    Each named label is kept where the CT is above the bone threshold (the models are
    isosurfaces of the CT inside the labels); values not named are left out, with a note.
    Without a skull value (a file holding the mandible alone), all other bone above the
    threshold is the skull.

    Parameters
    ----------
    volume : Volume
        The CT.
    path : path-like
        The label volume (see :func:`read_label_volume`).
    values : dict of str to int, optional
        Label value of ``"skull"`` and/or ``"mandible"`` in the file. By default those of
        the segments the file names so (a 3D Slicer segmentation, a DICOM-SEG), else
        ``{"skull": 1, "mandible": 2}``.
    threshold_hu : float, optional
        Bone threshold; by default chosen from the CT.

    Returns
    -------
    planner.bone.labels.BoneLabels
        With ``label_values``: the values used.
    """
    from planner.bone.labels import BoneLabels
    from planner.bone.threshold import bone_threshold, half_level

    path = Path(path)
    source = read_label_volume(path)
    by_name = values is None and bool(named := _named_values(source.names))
    if values is None:
        values = named or dict(_NAMES)
    present = {int(v) for v in np.unique(source.labels) if v > 0}
    missing = {n: v for n, v in values.items() if v not in present}
    if missing:
        listed = ", ".join(
            f"{v}" + (f" ({source.names[v]})" if v in source.names else "")
            for v in sorted(present)
        )
        raise PlannerError(
            f"--labels: {path.name} has no voxel of value "
            + ", ".join(f"{n}={v}" for n, v in missing.items())
            + f"; its values are {listed or 'none'}"
        )
    on_ct = labels_on_grid(source, volume, name=path.name)
    notes = [
        f"labels read from {path.name}: "
        + ", ".join(f"{n}={v}" for n, v in values.items())
        + (" (the segments so named)" if by_name else "")
    ]
    if threshold_hu is None:
        choice = bone_threshold(volume)
        level, method = choice.threshold_hu, choice.method
        notes.append(f"bone threshold {choice.note}")
    else:
        level, method = float(threshold_hu), "given"
    if np.issubdtype(volume.hu.dtype, np.integer):
        level = half_level(level)
    bone = volume.hu > level
    labels = np.zeros(volume.shape, dtype=np.uint8)
    vox = volume.voxel_volume_mm3
    for name, value in values.items():
        mine = on_ct == value
        labels[mine & bone] = _NAMES[name]
        below = np.count_nonzero(mine & ~bone) * vox / 1000.0
        if below > 0.5:
            notes.append(f"{below:.1f} cm³ of the {name} label lies below {level:g} HU (left out)")
    if "skull" not in values:
        labels[bone & (labels == 0)] = _NAMES["skull"]
        notes.append("no skull value given: all other bone above the threshold is the skull")
    other = (on_ct > 0) & ~np.isin(on_ct, list(values.values()))
    if other.any():
        notes.append(
            f"label values not named in --label-values left out: "
            f"{sorted(int(v) for v in np.unique(on_ct[other]))} "
            f"({np.count_nonzero(other) * vox / 1000.0:.1f} cm³)"
        )
    volume_mm3 = {k: float(np.count_nonzero(labels == k)) * vox for k in (1, 2)}
    return BoneLabels(
        labels=labels,
        threshold_hu=float(level),
        threshold_method=method,
        mandible_found=volume_mm3[2] > 0,
        notes=tuple(notes),
        volume_mm3=volume_mm3,
        bone_mm3=volume_mm3[1] + volume_mm3[2],
        label_values=dict(values),
    )


def _named_values(names: dict[int, str]) -> dict[str, int]:
    """The values of the segments named skull and mandible (any case), where named so."""
    out = {}
    for value, name in sorted(names.items()):
        key = name.strip().lower()
        if key in _NAMES and key not in out:
            out[key] = value
    return out
