"""The CT-to-models stage: scan -> volume -> bone labels -> skull and mandible meshes.

:func:`build_models` runs the stage in memory; :func:`write_models` writes
``CASE_DIR/models/`` (binary STL in LPS mm plus ``models.json``, the report of how they
were made); :func:`read_models` loads them for the planning stage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import PlannerError
from planner.fileio import atomic_dir, atomic_path

__all__ = ["Model", "ModelsResult", "build_models", "read_models", "write_models"]

MODELS_DIR = "models"
MODELS_REPORT = "models.json"
LABEL_NAMES = {1: "skull", 2: "mandible"}

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class Model:
    """One bone model.

    Parameters
    ----------
    name : str
        "skull" or "mandible" ("skull" holds all bone when the mandible was not separated).
    mesh : trimesh.Trimesh
        Watertight, outward-oriented, single body, LPS mm.
    deviation_mean_mm, deviation_max_mm : float
        Distance between the simplified mesh and the full-resolution isosurface.
    """

    name: str
    mesh: object
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
            "models": [m.summary() for m in self.models],
            "notes": list(self.notes),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def build_models(
    scan,
    *,
    series_uid: str | None = None,
    threshold_hu: float | None = None,
    separate_mandible: bool = True,
    progress: Progress | None = None,
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
    """
    from planner.bone import labels as segment
    from planner.bone import surface as meshing
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
            progress=(lambda d, n: progress("reading slices", d, n)) if progress else None,
        )
    seconds["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    seg = segment.segment_bone(
        volume,
        threshold_hu=threshold_hu,
        separate_mandible=separate_mandible,
        progress=progress,
    )
    seconds["segment"] = time.perf_counter() - t

    t = time.perf_counter()
    labels = [lab for lab in LABEL_NAMES if seg.volume_mm3.get(lab, 0.0) > 0]
    if not labels:
        raise PlannerError(
            f"no bone found above {seg.threshold_hu:g} HU in the series; "
            "check the series is a CT of the head, or set the threshold with --threshold"
        )
    steps = 2 * len(labels)  # an isosurface, then a decimation, for each label
    dense = []
    for n, label in enumerate(labels):
        if progress:
            progress("meshing", n, steps)
        dense.append(
            meshing.extract_surface(volume, seg.labels, label, threshold_hu=seg.threshold_hu)
        )
    header = {
        "series_uid": volume.series_uid,
        "series_description": volume.description,
        "shape": volume.shape,
        "spacing_mm": tuple(float(s) for s in volume.spacing_mm),
        "threshold_hu": float(seg.threshold_hu),
        "threshold_method": seg.threshold_method,
        "notes": tuple(volume.notes) + tuple(seg.notes),
    }
    # decimation needs the most memory of the stage: let the volume and the labels go
    # first (when the volume was read here, nothing else holds it)
    del volume, seg
    models = []
    for n, label in enumerate(labels):
        if progress:
            progress("meshing", len(labels) + n, steps)
        simple, dev = meshing.simplify(dense[n])
        dense[n] = None  # the dense surface is done with
        models.append(Model(LABEL_NAMES[label], simple, dev.mean_mm, dev.max_mm))
    if progress:
        progress("meshing", steps, steps)
    seconds["mesh"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0

    return ModelsResult(
        **header,
        separate_mandible=separate_mandible,
        models=tuple(models),
        seconds=seconds,
    )


def write_models(result: ModelsResult, case_dir: str | Path) -> Path:
    """Write ``CASE_DIR/models/`` whole (replacing an older one only once complete)."""
    from planner.bone.surface import write_stl

    target = Path(case_dir) / MODELS_DIR
    with atomic_dir(target, overwrite=True) as tmp:
        for m in result.models:
            write_stl(m.mesh, tmp / f"{m.name}.stl")
        (tmp / MODELS_REPORT).write_text(json.dumps(result.report(), indent=2) + "\n")
    return target


def read_models(case_dir: str | Path) -> dict:
    """Load ``CASE_DIR/models/*.stl`` as ``{name: trimesh.Trimesh}``."""
    import trimesh

    folder = Path(case_dir) / MODELS_DIR
    report = folder / MODELS_REPORT
    if not report.is_file():
        raise PlannerError(
            f"{folder} has no models; run 'planner segment SCAN -o {case_dir} --force' "
            "or 'planner build' with the scan available"
        )
    names = [m["name"] for m in json.loads(report.read_text())["models"]]
    meshes = {}
    for name in names:
        path = folder / f"{name}.stl"
        if not path.is_file():
            raise PlannerError(f"{path} is missing; rebuild the models with 'planner segment'")
        meshes[name] = trimesh.load_mesh(path, process=True)
    return meshes


def write_json(data: dict, path: Path) -> None:
    """Write a JSON file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
