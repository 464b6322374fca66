"""CLI verbs of the CT-to-models stage: ``series`` and ``segment``."""

from __future__ import annotations

import argparse
import time

from planner.cli.common import Progress, path_arg, print_warnings

__all__ = ["add_commands", "print_models"]


def add_commands(sub) -> None:
    p = sub.add_parser(
        "series",
        help="list the series in a folder, DICOMDIR or zip and the one planner would use",
    )
    p.add_argument("paths", nargs="+", type=path_arg, metavar="PATH")
    p.set_defaults(func=_series)

    p = sub.add_parser("segment", help="CT -> skull and mandible models: start a case")
    p.add_argument(
        "paths",
        nargs="+",
        type=path_arg,
        metavar="PATH",
        help="a folder, a DICOMDIR, a zip, or DICOM files",
    )
    p.add_argument("-o", "--output", required=True, type=path_arg, metavar="CASE_DIR")
    p.add_argument("--series", metavar="UID", help="use this series (default: chosen)")
    p.add_argument(
        "--threshold",
        type=float,
        metavar="HU",
        help="bone threshold in HU (default: found from the scan)",
    )
    p.add_argument(
        "--one-model",
        action="store_true",
        help="keep all bone as one model (do not separate the mandible)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the models of an existing case (its plan is kept)",
    )
    p.set_defaults(func=_segment)


def _scan_arg(paths):
    return paths[0] if len(paths) == 1 else list(paths)


def _series(args: argparse.Namespace, out) -> int:
    from rich.table import Table

    from planner.errors import PlannerError
    from planner.scan import dicom

    infos = dicom.list_series(_scan_arg(args.paths))
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
        table.add_row(
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
    out.print(table)
    out.print("(--series takes any unique ending of a series UID)")
    if chosen:
        out.print(f"→ chosen: {chosen}")
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
    if (case_dir / casefile.CASE_FILE).exists():
        if not args.force:
            raise PlannerError(
                f"{case_dir} already holds a case; pass --force to replace its models "
                "(the plan is kept), or choose another folder"
            )
        existing = casefile.load_case(case_dir)
    elif case_dir.exists() and any(case_dir.iterdir()) and not args.force:
        raise PlannerError(f"{case_dir} is not empty; choose an empty or new folder")

    t0 = time.perf_counter()
    with Progress(out) as progress:
        result = build_models(
            _scan_arg(args.paths),
            series_uid=args.series,
            threshold_hu=args.threshold,
            separate_mandible=not args.one_model,
            progress=progress,
        )
    case = existing or casefile.Case(label="")
    import dataclasses

    case = dataclasses.replace(
        case,
        source=casefile.Source(path=_source_path(args.paths), series_uid=result.series_uid),
        segmentation=casefile.Segmentation(
            threshold_hu=result.threshold_hu, separate_mandible=not args.one_model
        ),
    )
    write_models(result, case_dir)
    casefile.save_case(case, case_dir)
    print_models(out, result)
    out.print(
        f"case written to {case_dir} in {time.perf_counter() - t0:.1f} s"
        + (" (plan kept)" if existing else "")
    )
    return 0


def print_models(out, result) -> None:
    """Print the summary of the CT-to-models stage."""
    from rich.table import Table

    out.print(f"series: {result.series_description or '(no description)'}  {result.series_uid}")
    out.print(
        f"  {result.shape[0]}×{result.shape[1]}×{result.shape[2]} voxels, "
        f"{_mm(result.spacing_mm)} mm"
    )
    out.print(f"threshold: {result.threshold_hu:g} HU ({result.threshold_method})")
    table = Table("model", "triangles", "volume cm³", "watertight", "deviation mean/max mm")
    for m in result.models:
        s = m.summary()
        table.add_row(
            m.name,
            f"{s['triangles']:,}",
            f"{s['volume_mm3'] / 1000:.1f}",
            "yes" if s["watertight"] else "NO",
            f"{s['deviation_mean_mm']:.3f} / {s['deviation_max_mm']:.3f}",
        )
    out.print(table)
    sec = result.seconds
    out.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in sec.items()))
    print_warnings(out, result.notes, title="notes")


def _source_path(paths) -> str:
    """The scan's absolute path for case.json (one path; several files: their folder)."""
    first = paths[0].resolve()
    return str(first if len(paths) == 1 else first.parent)
