"""CLI verbs that write the plan by numbers: osteotomy, distractor, device, protocol, landmark.

Each edit reads ``case.json``, changes one thing, validates the whole case and writes it
back atomically. Geometry checks that need the bone (a cut that misses, a footplate off
the bone) are made by ``planner check`` and ``planner build``.
"""

from __future__ import annotations

import argparse

from planner.cli.common import path_arg

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    _add_osteotomy(sub)
    _add_distractor(sub)
    _add_device(sub)
    _add_protocol(sub)
    _add_landmark(sub)


def _vec(parser, flag, n=3, help=""):
    parser.add_argument(
        flag, nargs=n, type=float, metavar=("X", "Y", "Z")[:n] if n == 3 else None, help=help
    )


def _item_parsers(sub, kind, help_text):
    p = sub.add_parser(kind, help=help_text, description=help_text)
    actions = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    made = {}
    for action, text in (
        ("add", f"add a {kind}"),
        ("set", f"change fields of a {kind}"),
        ("remove", f"remove a {kind}"),
    ):
        a = actions.add_parser(action, help=text, description=text)
        a.add_argument("case_dir", type=path_arg, metavar="CASE_DIR")
        a.add_argument("--name", required=True, help=f"the {kind}'s name")
        a.set_defaults(func=_edit, kind=kind, mode=action)
        made[action] = a
    ls = actions.add_parser("list", help=f"list the case's {kind} entries")
    ls.add_argument("case_dir", type=path_arg, metavar="CASE_DIR")
    ls.set_defaults(func=_list, kind=kind)
    return made["add"], made["set"]


def _add_osteotomy(sub):
    for p in _item_parsers(sub, "osteotomy", "a bounded planar cut (LPS mm)"):
        _vec(p, "--center", help="centre of the cut rectangle, LPS mm")
        _vec(p, "--normal", help="normal of the cut plane")
        _vec(p, "--size", n=2, help="extent in the plane: along --axis and across it, mm")
        _vec(p, "--axis", help="in-plane direction of the first size (default: towards +z)")
        p.add_argument("--kerf", type=float, help="saw kerf in mm (default 1.0)")


def _add_distractor(sub):
    for p in _item_parsers(sub, "distractor", "a placed distraction device"):
        p.add_argument("--device", help="catalog device name (see 'planner device list')")
        _vec(p, "--fixed", help="footplate point on the fixed segment, LPS mm")
        _vec(p, "--moving", help="footplate point on the moving segment, LPS mm")
        _vec(p, "--vector", help="direction of distraction")
        p.add_argument("--target", type=float, help="planned length, mm")
        _vec(p, "--curve-toward", help="curvilinear devices: side of the track's centre")


def _add_device(sub):
    for p in _item_parsers(sub, "device", "a device type added to the case's catalog"):
        p.add_argument("--kind", choices=("linear", "curvilinear"))
        p.add_argument("--stroke", type=float, help="maximum length, mm")
        p.add_argument("--mm-per-turn", type=float, help="advance per full turn of the rod")
        p.add_argument("--track-radius", type=float, help="curvilinear track radius, mm")
        p.add_argument("--description", help="free text")


def _add_protocol(sub):
    p = sub.add_parser("protocol", help="show or change the treatment protocol")
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR")
    p.add_argument("--latency", type=float, help="days from surgery to the first activation")
    p.add_argument("--rate", type=float, help="mm per day")
    p.add_argument("--activations", type=int, help="activations per day")
    p.add_argument("--consolidation", type=float, help="days of consolidation")
    p.add_argument("--start-date", help="date of surgery, YYYY-MM-DD")
    p.add_argument("--time", help="time of the first activation of each day, HH:MM")
    p.set_defaults(func=_protocol)


def _add_landmark(sub):
    p = sub.add_parser("landmark", help="set or remove a named measurement point (LPS mm)")
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR")
    p.add_argument("--name", required=True, help="e.g. chin, condyle_left, condyle_right")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--at", nargs=3, type=float, metavar=("X", "Y", "Z"))
    g.add_argument("--remove", action="store_true")
    p.set_defaults(func=_landmark)


# Field names in case.json for each CLI option.
_FIELDS = {
    "osteotomy": {
        "center": "center_mm",
        "normal": "normal",
        "size": "size_mm",
        "axis": "in_plane_axis",
        "kerf": "kerf_mm",
    },
    "distractor": {
        "device": "device",
        "fixed": "fixed_point_mm",
        "moving": "moving_point_mm",
        "vector": "vector",
        "target": "target_mm",
        "curve_toward": "curve_toward",
    },
    "device": {
        "kind": "kind",
        "stroke": "stroke_mm",
        "mm_per_turn": "mm_per_turn",
        "track_radius": "track_radius_mm",
        "description": "description",
    },
}


def _edit(args: argparse.Namespace, out) -> int:
    from planner.plan.case import edit_item, load_case, save_case

    case = load_case(args.case_dir)
    fields = {
        key: getattr(args, opt)
        for opt, key in _FIELDS[args.kind].items()
        if getattr(args, opt, None) is not None
    }
    case = edit_item(case, args.kind, args.name, fields, mode=args.mode)
    save_case(case, args.case_dir)
    verb = {"add": "added", "set": "changed", "remove": "removed"}[args.mode]
    out.print(f"{verb} {args.kind} {args.name!r} in {args.case_dir / 'case.json'}")
    if args.mode != "remove":
        out.print("run 'planner check' to test it against the bone")
    return 0


def _list(args: argparse.Namespace, out) -> int:
    import dataclasses

    from rich.table import Table

    from planner.plan.case import case_to_dict, load_case
    from planner.plan.devices import device_catalog

    case = load_case(args.case_dir)
    if args.kind == "device":
        rows = [dataclasses.asdict(d) for d in device_catalog(case).values()]
    else:
        rows = case_to_dict(case)[
            {"osteotomy": "osteotomies", "distractor": "distractors"}[args.kind]
        ]
    if not rows:
        out.print(f"no {args.kind} in the case")
        return 0
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(_fmt(row.get(k)) for k in rows[0]))
    out.print(table)
    return 0


def _fmt(value) -> str:
    if isinstance(value, list):
        return (
            "("
            + ", ".join(f"{v:.1f}" if abs(v) >= 1 or v == 0 else f"{v:.3f}" for v in value)
            + ")"
        )
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def _protocol(args: argparse.Namespace, out) -> int:
    import dataclasses

    from planner.plan.case import case_from_dict, case_to_dict, load_case, save_case

    case = load_case(args.case_dir)
    changes = {
        key: getattr(args, opt)
        for opt, key in (
            ("latency", "latency_days"),
            ("rate", "rate_mm_per_day"),
            ("activations", "activations_per_day"),
            ("consolidation", "consolidation_days"),
            ("start_date", "start_date"),
            ("time", "first_activation_time"),
        )
        if getattr(args, opt) is not None
    }
    if changes:
        data = case_to_dict(case)
        data["protocol"].update(changes)
        case = case_from_dict(data)
        save_case(case, args.case_dir)
    for f in dataclasses.fields(case.protocol):
        out.print(f"{f.name:<24}{getattr(case.protocol, f.name)}")
    return 0


def _landmark(args: argparse.Namespace, out) -> int:
    from planner.plan.case import case_from_dict, case_to_dict, load_case, save_case

    case = load_case(args.case_dir)
    data = case_to_dict(case)
    if args.remove:
        if args.name not in data["landmarks_mm"]:
            from planner.errors import PlannerError

            raise PlannerError(f"no landmark called {args.name!r} in the case")
        del data["landmarks_mm"][args.name]
    else:
        data["landmarks_mm"][args.name] = list(args.at)
    save_case(case_from_dict(data), args.case_dir)
    out.print(f"{'removed' if args.remove else 'set'} landmark {args.name!r}")
    return 0
