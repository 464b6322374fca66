"""CLI verbs of the CT-to-models stage: ``series`` and ``segment``."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from planner.cli.common import Progress, add_verb, path_arg, print_warnings, show

__all__ = ["add_commands", "print_models", "source_path"]


def _scan_paths_argument(p) -> None:
    p.add_argument(
        "paths",
        nargs="+",
        type=path_arg,
        metavar="PATH",
        help="a folder, a DICOMDIR, a zip, or DICOM files",
    )


def add_commands(sub) -> None:
    p = add_verb(
        sub,
        "series",
        "list the series in a folder, DICOMDIR or zip and the one planner would use",
        "planner series /media/cdrom/DICOMDIR",
    )
    _scan_paths_argument(p)
    _allow_gaps_option(p)
    p.set_defaults(func=_series)

    p = add_verb(
        sub,
        "segment",
        "CT -> skull and mandible models: start a case",
        "planner segment ~/scans/patient_ct -o cases/case1",
    )
    _scan_paths_argument(p)
    p.add_argument(
        "-o",
        "--output",
        required=True,
        type=path_arg,
        metavar="CASE_DIR",
        help="the case folder to create (new or empty; an existing case needs --force)",
    )
    p.add_argument(
        "--series",
        metavar="UID",
        help="use this series: any unique ending of its UID (default: the one 'planner "
        "series' marks)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        metavar="HU",
        help="bone threshold in HU (default: 300.5 HU on CT calibrated in HU; found from the "
        "histogram, Otsu above soft tissue, when bone reads low as on cone-beam CT)",
    )
    p.add_argument(
        "--one-model",
        action="store_true",
        help="keep all bone as one model (do not separate the mandible)",
    )
    p.add_argument(
        "--mandible-at",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="a point on the chin bone, LPS mm (as 3D Slicer's LPS coordinates): the "
        "mandible's separation is seeded there (when it is not found by itself)",
    )
    p.add_argument(
        "--labels",
        type=path_arg,
        metavar="FILE",
        help="use a label volume made elsewhere (NIfTI .nii/.nii.gz, NRRD .nrrd or "
        "DICOM-SEG, on this series) instead of segmenting",
    )
    p.add_argument(
        "--label-values",
        metavar="NAME=V,...",
        help="the values of the bones in --labels (default: those of the segments named "
        "skull and mandible in the file, else skull=1,mandible=2)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the models of an existing case (its plan is kept)",
    )
    _allow_gaps_option(p)
    p.set_defaults(func=_segment)


def _allow_gaps_option(p) -> None:
    p.add_argument(
        "--allow-gaps",
        action="store_true",
        help="load a series with missing slices, filling each gap by linear interpolation "
        "(default: refused, naming the files either side of the gap)",
    )


def _scan_arg(paths):
    return paths[0] if len(paths) == 1 else list(paths)


def _series(args: argparse.Namespace, out) -> int:
    from rich.table import Table

    from planner.errors import PlannerError
    from planner.scan import dicom

    infos = dicom.list_series(_scan_arg(args.paths), allow_gaps=args.allow_gaps)
    try:
        chosen = dicom.choose_series(infos).uid
    except PlannerError:  # listing still helps when nothing is usable
        chosen = None
    table = Table(
        "",
        "series UID",
        "description",
        "modality",
        "images",
        "size",
        "pixel mm",
        "slice mm",
        "kernel",
        "tilt",
        "usable",
    )
    for s in infos:
        cells = (
            "→" if s.uid == chosen else "",
            "…" + s.uid[-10:],
            s.description,
            s.modality,
            str(s.n_images),
            f"{s.image_size[1]}×{s.image_size[0]}" if s.image_size[0] else "",
            _mm(s.pixel_spacing_mm),
            _mm(s.slice_spacing_mm),
            s.kernel or "",
            f"{s.gantry_tilt_deg:.1f}°" if s.gantry_tilt_deg else "",
            "yes" if s.usable else s.reason,
        )
        table.add_row(*(show(c) for c in cells))
    out.print(table)
    out.print("(--series takes any unique ending of a series UID)")
    if chosen:
        out.print(f"→ chosen: {show(chosen)}")
        print_warnings(out, next(s.notes for s in infos if s.uid == chosen), title="notes")
    else:
        out.print("no usable CT volume in this input")
    return 0


def _mm(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, tuple | list):
        return "×".join(f"{x:.3g}" for x in v)
    return f"{v:.3g}"


def _segment(args: argparse.Namespace, out) -> int:
    from planner.bone.models import build_models, write_models
    from planner.errors import PlannerError
    from planner.plan import case as casefile

    case_dir = args.output
    existing = None
    if case_dir.exists() and not case_dir.is_dir():
        raise PlannerError(
            f"-o {case_dir} is a file, not a folder; give a new or empty folder for the case"
        )
    if (case_dir / casefile.CASE_FILE).exists():
        if not args.force:
            raise PlannerError(
                f"{case_dir} already holds a case; pass --force to replace its models "
                "(the plan is kept), or choose another folder"
            )
        existing = casefile.load_case(case_dir)
    elif case_dir.exists() and any(case_dir.iterdir()) and not args.force:
        raise PlannerError(f"{case_dir} is not empty; choose an empty or new folder")
    _check_threshold(args.threshold)
    label_values = None
    if args.labels is None and args.label_values is not None:
        raise PlannerError("--label-values names the values in --labels: give that file too")
    if args.labels is not None:
        from planner.bone.label_import import parse_label_values

        if args.label_values is not None:
            label_values = parse_label_values(args.label_values)
        if not args.labels.is_file():
            raise PlannerError(f"--labels: {args.labels} is not a file")

    t0 = time.perf_counter()
    with Progress(out) as progress:
        result = build_models(
            _scan_arg(args.paths),
            series_uid=args.series,
            threshold_hu=args.threshold,
            separate_mandible=not args.one_model,
            allow_gaps=args.allow_gaps,
            progress=progress,
            mandible_at=tuple(args.mandible_at) if args.mandible_at else None,
            labels_file=args.labels,
            label_values=label_values,
        )
    case = existing or casefile.Case(label="")
    import dataclasses

    case = dataclasses.replace(
        case,
        source=casefile.Source(
            path=source_path(args.paths, case_dir), series_uid=result.series_uid
        ),
        segmentation=casefile.Segmentation(
            threshold_hu=result.threshold_hu,
            separate_mandible=not args.one_model,
            mandible_at_mm=result.mandible_at_mm,
            labels_path="" if args.labels is None else source_path([args.labels], case_dir),
            label_values=result.label_values,
            allow_gaps=args.allow_gaps,
        ),
    )
    write_models(result, case_dir)
    if existing is not None:
        from planner.plan.case_edit import locked_case

        with locked_case(case_dir):  # keep edits made meanwhile: only source/segmentation
            current = casefile.load_case(case_dir)
            case = dataclasses.replace(current, source=case.source, segmentation=case.segmentation)
            casefile.save_case(case, case_dir)
    else:
        casefile.save_case(case, case_dir)
    print_models(out, result)
    out.print(
        f"case written to {show(case_dir)} in {time.perf_counter() - t0:.1f} s"
        + (" (plan kept)" if existing else "")
    )
    return 0


def _check_threshold(threshold_hu: float | None) -> None:
    """Refuse a --threshold the case model would refuse, before the long work."""
    from planner.plan.case import CaseError
    from planner.plan.case_blocks import read_segmentation
    from planner.plan.case_reader import FieldReader

    problems: list = []
    read_segmentation(FieldReader({"threshold_hu": threshold_hu}, "segmentation", problems))
    if problems:
        raise CaseError(problems).renamed({"segmentation.threshold_hu": "--threshold"})


def print_models(out, result) -> None:
    """Print the summary of the CT-to-models stage."""
    from rich.table import Table

    description = result.series_description or "(no description)"
    out.print(f"series: {show(description)}  {show(result.series_uid)}")
    out.print(
        f"  {result.shape[0]}×{result.shape[1]}×{result.shape[2]} voxels, "
        f"{_mm(result.spacing_mm)} mm"
    )
    out.print(f"threshold: {result.threshold_hu:g} HU ({show(result.threshold_method)})")
    summaries = result.summaries()
    measured = "the STL files read back" if summaries[0]["measured_on"] == "file" else "memory"
    table = Table(
        "model",
        "triangles",
        "volume cm³",
        "bodies",
        "watertight",
        "deviation mean/max mm",
        title=f"measured on {measured}",
    )
    for s in summaries:
        table.add_row(
            show(s["name"]),
            f"{s['triangles']:,}",
            f"{s['volume_mm3'] / 1000:.1f}",
            str(s["bodies"]),
            "yes" if s["watertight"] else "NO",
            f"{s['deviation_mean_mm']:.3f} / {s['deviation_max_mm']:.3f}",
        )
    out.print(table)
    _print_pieces(out, result, summaries)
    if result.segmentation:
        out.print(
            "bone labels for 3D Slicer: models/labels.seg.nrrd (load it over the series to check "
            "them; corrected in the Segment Editor and saved outside models/, which is remade, "
            "give it back with --labels)"
        )
    sec = result.seconds
    out.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in sec.items()))
    print_warnings(out, result.notes, title="notes")
    print_warnings(out, result.warnings)


def _print_pieces(out, result, summaries, most: int = 8) -> None:
    """Other bone pieces, what was removed and why, and the balance of all the bone."""

    def at(c) -> str:
        return "(" + ", ".join(f"{v:.0f}" for v in c) + ") mm"

    for s in summaries:
        pieces = s.get("pieces") or []
        if pieces and s["name"] != "other_bone":  # specks where a thin neck pinched
            mm3 = sum(p["volume_mm3"] for p in pieces)
            n = len(pieces)
            out.print(
                f"{show(s['name'])}: {n} more {'body' if n == 1 else 'bodies'} beside the "
                f"main one, {mm3:.1f} mm³ in all (models.json lists them)"
            )
        elif pieces:
            out.print(f"{show(s['name'])}: {len(pieces)} pieces (volume at centre, LPS)")
            for p in pieces[:most]:
                out.print(f"  {p['volume_mm3'] / 1000:7.2f} cm³ at {at(p['centre_mm'])}")
            if len(pieces) > most:
                rest = sum(p["volume_mm3"] for p in pieces[most:]) / 1000
                out.print(f"  and {len(pieces) - most} more, {rest:.2f} cm³ (models.json)")
    for p in result.removed:
        what = "removed as equipment" if p.kind == "equipment" else "removed as islands"
        out.print(f"{what}: {p.volume_mm3 / 1000:.2f} cm³ at {at(p.centre_mm)}: {show(p.reason)}")
    b = result.balance()
    if b["bone"] == b["bone"]:  # not NaN
        out.print(
            f"bone above {result.threshold_hu:g} HU: {b['bone']:.1f} cm³ = models "
            f"{b['models']:.1f} - small cavities filled {b['cavities_filled']:.1f} + equipment "
            f"{b['equipment']:.1f} + islands {b['islands']:.1f} + surface vs voxels "
            f"{b['difference']:+.1f}"
        )


def source_path(paths, case_dir: Path) -> str:
    """The scan's path for case.json, as the user typed it.

    Inside the case folder: relative to it (the case can move with its scan). Elsewhere:
    absolute, but with the user's spelling (symlinks not resolved). Several files: their
    folder.
    """
    first = Path(os.path.abspath(paths[0]))
    scan = first if len(paths) == 1 else first.parent
    case_abs = Path(os.path.abspath(case_dir))
    if scan.is_relative_to(case_abs):
        return scan.relative_to(case_abs).as_posix() or "."
    return str(scan)
