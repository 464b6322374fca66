"""The CT-to-models stage: scan -> volume -> bone labels -> skull and mandible meshes.

:func:`build_models` runs the stage in memory; :func:`write_models` writes
``CASE_DIR/models/`` (binary STL in LPS mm, ``models.json``, the report of how they were
made, and ``labels.seg.nrrd``, the bone labels for 3D Slicer); :func:`read_models` loads
them for the planning stage.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from planner.bone.bodies import JOINED, OTHER_BONE, part_models
from planner.bone.label_export import SEGMENTATION_FILE
from planner.errors import PlannerError
from planner.fileio import atomic_dir, atomic_path
from planner.progress import ProgressFn

if TYPE_CHECKING:
    import trimesh

__all__ = [
    "Model",
    "ModelsResult",
    "build_models",
    "read_models",
    "read_models_report",
    "write_models",
]

MODELS_DIR = "models"
MODELS_REPORT = "models.json"
_EARLY_HELPER_VOXELS = 4_000_000  # from about 256 x 256 x 64 voxels a skull's surface is
# decimated in slabs, so the helper process is started before it is made


@dataclass(frozen=True, eq=False)
class Model:
    """One bone model.

    Parameters
    ----------
    name : str
        "skull" or "mandible" (the largest body of each label; "skull" holds all bone
        when the mandible was not separated), or "other_bone" (every other piece of the
        patient's bone: vertebrae, the hyoid, loose fragments).
    mesh : trimesh.Trimesh
        Watertight, outward-oriented, LPS mm (one body, several for "other_bone").
    deviation_mean_mm, deviation_max_mm : float
        Distance between the simplified mesh and the full-resolution isosurface.
    """

    name: str
    mesh: trimesh.Trimesh
    deviation_mean_mm: float
    deviation_max_mm: float

    def summary(self) -> dict:
        """JSON-ready figures: triangles, volume, watertight, bodies, cavities, deviation."""
        from planner.bone.surface import mesh_report

        r = mesh_report(self.mesh)
        return {
            "name": self.name,
            "triangles": r["triangles"],
            "volume_mm3": r["volume_mm3"],
            "watertight": r["watertight"],
            "bodies": r["bodies"],
            "cavities": r["cavities"],
            "deviation_mean_mm": round(self.deviation_mean_mm, 3),
            "deviation_max_mm": round(self.deviation_max_mm, 3),
            JOINED: bool(self.mesh.metadata.get(JOINED, False)),
        }


@dataclass(frozen=True, eq=False)
class ModelsResult:
    """What the stage made and how."""

    series_uid: str
    series_description: str
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    threshold_hu: float
    threshold_method: str
    separate_mandible: bool
    models: tuple[Model, ...]
    notes: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    bone_mm3: float = float("nan")
    removed: tuple = ()
    fragments: dict = field(default_factory=lambda: {"count": 0, "volume_mm3": 0.0})
    cavities_filled_mm3: float = 0.0
    surface_mm3: float = float("nan")
    files: dict[str, dict] = field(default_factory=dict)
    mandible_at_mm: tuple[float, float, float] | None = None
    label_values: dict[str, int] = field(default_factory=dict)
    from_label_file: bool = False
    allow_gaps: bool = False
    segmentation: bytes = b""  # the labels as a 3D Slicer .seg.nrrd file, written beside

    def summaries(self) -> list[dict]:
        """Each model's figures: measured on its file read back once written (see
        :func:`write_models`), on the mesh in memory before that."""
        out = []
        for m in self.models:
            written = self.files.get(m.name)
            if written is None:
                out.append({**m.summary(), "measured_on": "memory"})
                continue
            keep = 0 if m.name == OTHER_BONE else 1  # a model's one body needs no listing
            out.append(
                {
                    "name": m.name,
                    **{
                        k: written[k]
                        for k in (
                            "triangles",
                            "volume_mm3",
                            "watertight",
                            "bodies",
                            "cavities",
                            "edges_not_two",
                        )
                    },
                    "deviation_mean_mm": round(m.deviation_mean_mm, 3),
                    "deviation_max_mm": round(m.deviation_max_mm, 3),
                    JOINED: bool(m.mesh.metadata.get(JOINED, False)),
                    "measured_on": "file",
                    "pieces": written["pieces"] if not keep else written["pieces"][1:],
                }
            )
        return out

    def balance(self) -> dict:
        """Where all the bone above the threshold went, cm³.

        ``bone`` (voxels above the threshold) = ``models`` (mesh volumes) -
        ``cavities_filled`` (marrow spaces the models fill) + ``equipment`` + ``islands``
        (small islands' voxels and isosurface fragments) + ``difference`` (surface
        against voxel count: partial volume at the surface).
        """
        models = sum(s["volume_mm3"] for s in self.summaries())
        equipment = sum(p.volume_mm3 for p in self.removed if p.kind == "equipment")
        islands = sum(p.volume_mm3 for p in self.removed if p.kind != "equipment")
        islands += self.fragments["volume_mm3"]
        rest = self.bone_mm3 - (models - self.cavities_filled_mm3) - equipment - islands
        return {
            k: round(v / 1000.0, 2)
            for k, v in (
                ("bone", self.bone_mm3),
                ("models", models),
                ("cavities_filled", self.cavities_filled_mm3),
                ("equipment", equipment),
                ("islands", islands),
                ("difference", rest),
            )
        }

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def report(self) -> dict:
        """JSON-ready report (no patient data: only the series UID and description)."""
        return {
            "series_uid": self.series_uid,
            "series_description": self.series_description,
            "shape": list(self.shape),
            "spacing_mm": [round(s, 4) for s in self.spacing_mm],
            "threshold_hu": self.threshold_hu,
            "threshold_method": self.threshold_method,
            "separate_mandible": self.separate_mandible,
            "mandible_at_mm": None if self.mandible_at_mm is None else list(self.mandible_at_mm),
            "label_values": dict(self.label_values),
            "from_label_file": self.from_label_file,
            "allow_gaps": self.allow_gaps,
            "segmentation_file": SEGMENTATION_FILE if self.segmentation else None,
            "models": self.summaries(),
            "removed": [p.report() for p in self.removed],
            "fragments": dict(self.fragments),
            "balance_cm3": self.balance(),
            "labels_surface_cm3": round(self.surface_mm3 / 1000.0, 2),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def build_models(
    scan,
    *,
    series_uid: str | None = None,
    threshold_hu: float | None = None,
    separate_mandible: bool = True,
    progress: ProgressFn | None = None,
    allow_gaps: bool = False,
    mandible_at: tuple[float, float, float] | None = None,
    labels_file: str | Path | None = None,
    label_values: dict[str, int] | None = None,
) -> ModelsResult:
    """Read a scan and make the bone models.

    Parameters
    ----------
    scan : path-like, sequence of paths, or Volume
        A folder, DICOMDIR, zip or list of files; or a volume already loaded.
    series_uid : str, optional
        The series to use; by default the thinnest complete axial CT.
    threshold_hu : float, optional
        Bone threshold; by default found from the scan (and reported).
    separate_mandible : bool
        Try to make the mandible its own model.
    progress : callable(task, done, total), optional
        Called during the long steps.
    allow_gaps : bool
        Load a series with missing slices, interpolating across each gap (noted).
    mandible_at : (3,) float, optional
        A point on the chin, LPS mm: the mandible's separation is seeded there.
    labels_file : path-like, optional
        A label volume made elsewhere (NIfTI, NRRD, DICOM-SEG) used instead of the
        segmentation (:mod:`planner.bone.label_import`), with ``label_values`` (by
        default the segments the file names skull and mandible, else
        ``{"skull": 1, "mandible": 2}``).
    """
    from planner.bone import labels as segment
    from planner.bone import surface as meshing
    from planner.bone.decimate import MAX_BLOCK_FACES
    from planner.bone.decimate_helper import helper_process
    from planner.bone.label_export import segmentation_file
    from planner.scan.volume import Volume

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    if isinstance(scan, Volume):
        volume = scan
    else:
        from planner.scan import dicom

        volume = dicom.load_volume(
            scan,
            series_uid=series_uid,
            allow_gaps=allow_gaps,
            progress=_ReadingProgress(progress) if progress else None,
        )
    seconds["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    if labels_file is not None:
        from planner.bone.label_import import bone_labels_from_file

        seg = bone_labels_from_file(volume, labels_file, label_values, threshold_hu=threshold_hu)
    else:
        seg = segment.segment_bone(
            volume,
            threshold_hu=threshold_hu,
            separate_mandible=separate_mandible,
            mandible_at=mandible_at,
            progress=progress,
        )
    seconds["segment"] = time.perf_counter() - t

    t = time.perf_counter()
    labels = [lab for lab in segment.LABEL_NAMES if seg.volume_mm3.get(lab, 0.0) > 0]
    if not labels:
        raise PlannerError(
            f"no bone found above {seg.threshold_hu:g} HU in the series; "
            "check the series is a CT of the head, or set the threshold with --threshold"
        )
    # one helper process decimates every other slab of each surface; for a large scan it
    # is started now, and loads its libraries while the dense surfaces are made
    with helper_process(start_now=volume.hu.size >= _EARLY_HELPER_VOXELS):
        steps = 2 * len(labels)  # an isosurface, then a decimation, for each label
        dense = []
        boxes = meshing.label_boxes(seg.labels)
        # the labels for 3D Slicer, cropped to the bone (0.7 MB, 0.1 s for 512 x 512 x 300)
        segmentation = segmentation_file(
            seg.labels,
            volume.affine,
            {label: segment.LABEL_NAMES[label] for label in labels},
            box=_union(boxes[label] for label in labels),
        )
        for n, label in enumerate(labels):
            if progress:
                progress("meshing", n, steps)
            dense.append(
                meshing.extract_surface(
                    volume, seg.labels, label, threshold_hu=seg.threshold_hu, box_ijk=boxes[label]
                )
            )
        parts, books = part_models(dense, [segment.LABEL_NAMES[label] for label in labels])
        del dense
        header = {
            "series_uid": volume.series_uid,
            "series_description": volume.description,
            "shape": volume.shape,
            "spacing_mm": tuple(float(s) for s in volume.spacing_mm),
            "threshold_hu": float(seg.threshold_hu),
            "threshold_method": seg.threshold_method,
            "notes": tuple(volume.notes) + tuple(seg.notes) + books.pop("notes"),
            "bone_mm3": seg.bone_mm3,
            "removed": seg.removed,
            "warnings": tuple(seg.warnings),
            "label_values": dict(seg.label_values),
            **books,
        }
        # decimation needs the most memory of the stage: let the volume and the labels go
        # first (when the volume was read here, nothing else holds it), and decimate in slabs
        # whose working memory (about 280 bytes a triangle) stays within the volume's size, in
        # this process and in the helper process that takes every other slab
        block_faces = max(MAX_BLOCK_FACES, volume.hu.nbytes // 280)
        del volume, seg
        models = []
        for n, (name, part) in enumerate(parts):
            if progress:
                progress("meshing", len(labels) + n * len(labels) // len(parts), steps)
            target = (
                200_000 if name != OTHER_BONE else max(20_000, min(200_000, len(part.faces) // 4))
            )
            simple, dev = meshing.simplify(part, target_faces=target, block_faces=block_faces)
            parts[n] = (name, None)  # the dense surface is done with
            models.append(Model(name, simple, dev.mean_mm, dev.max_mm))
        if progress:
            progress("meshing", steps, steps)
    seconds["mesh"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0

    return ModelsResult(
        **header,
        separate_mandible=separate_mandible,
        models=tuple(models),
        seconds=seconds,
        mandible_at_mm=None if mandible_at is None else tuple(float(v) for v in mandible_at),
        from_label_file=labels_file is not None,
        allow_gaps=allow_gaps,
        segmentation=segmentation,
    )


def _union(boxes) -> tuple[slice, ...]:
    """The box holding every box of ``boxes`` (tuples of slices on the same axes)."""
    boxes = list(boxes)
    return tuple(
        slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(3)
    )


def write_models(result: ModelsResult, case_dir: str | Path) -> Path:
    """Write ``CASE_DIR/models/`` whole (replacing an older one only once complete)."""
    from planner.bone.stl import stl_report, write_stl

    target = Path(case_dir) / MODELS_DIR
    with atomic_dir(target, overwrite=True) as tmp:
        for m in result.models:
            write_stl(m.mesh, tmp / f"{m.name}.stl")
            # every figure reported is measured on the file as written, read back
            result.files[m.name] = stl_report(tmp / f"{m.name}.stl")
        if result.segmentation:
            (tmp / SEGMENTATION_FILE).write_bytes(result.segmentation)
        (tmp / MODELS_REPORT).write_text(
            json.dumps(result.report(), indent=2) + "\n", encoding="utf-8"
        )
    return target


class _ReadingProgress:
    """``load_volume``'s ``(done, total)`` as true units: files' headers, then slices.

    ``load_volume`` counts the header pass out of twice the number of files, then goes
    on from the number of files to that plus the slices of the chosen series.
    """

    def __init__(self, progress: ProgressFn):
        self.progress = progress
        self.files: int | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.files is None:
            self.files = total // 2
        if done <= self.files:
            self.progress("reading headers", done, self.files)
        else:
            self.progress("reading slices", done - self.files, total - self.files)


def read_models(case_dir: str | Path) -> dict:
    """Load ``CASE_DIR/models/*.stl`` as ``{name: trimesh.Trimesh}``.

    A model whose bodies move as one (``models.json``: a newborn's mandibular halves) has
    ``metadata["bodies_joined"]`` set, for :func:`planner.plan.cuts.cut_bone`.
    """
    import trimesh

    folder = Path(case_dir) / MODELS_DIR
    report = folder / MODELS_REPORT
    if not report.is_file():
        raise PlannerError(
            f"{folder} has no models; run 'planner segment SCAN -o {case_dir} --force' "
            "or 'planner build' with the scan available"
        )
    entries = read_models_report(case_dir)["models"]
    meshes = {}
    for entry in entries:
        path = folder / f"{entry['name']}.stl"
        if not path.is_file():
            raise PlannerError(f"{path} is missing; rebuild the models with 'planner segment'")
        mesh = trimesh.load_mesh(path, process=True)
        if entry.get(JOINED):  # its bodies move as one (see planner.bone.bodies)
            mesh.metadata[JOINED] = True
        meshes[entry["name"]] = mesh
    return meshes


def read_models_report(case_dir: str | Path) -> dict:
    """``CASE_DIR/models/models.json``, checked: a corrupt file raises PlannerError."""
    report = Path(case_dir) / MODELS_DIR / MODELS_REPORT
    fix = f"rebuild the models with 'planner segment SCAN -o {case_dir} --force'"
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PlannerError(f"{report} is not valid JSON; {fix}") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not all(
        isinstance(m, dict) and isinstance(m.get("name"), str) for m in models
    ):
        raise PlannerError(f"{report} has no list of named models; {fix}")
    return data


def write_json(data: dict, path: Path) -> None:
    """Write a JSON file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
