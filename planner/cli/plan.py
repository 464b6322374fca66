"""CLI verbs that write the plan by numbers: osteotomy, distractor, device, protocol, landmark.

Each edit locks ``case.json``, reads it, changes one thing, has the case model validate
the whole case and writes it back atomically. Messages name the option the user typed
(``--center``). Geometry checks that need the bone (a cut that misses, a footplate off
the bone) are made by ``planner check`` and ``planner build``.
"""

from __future__ import annotations

import argparse

from planner.cli.common import LPS, add_verb, format_value, path_arg, quote, show

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    _add_osteotomy(sub)
    _add_distractor(sub)
    _add_device(sub)
    _add_protocol(sub)
    _add_landmark(sub)


def _vec(parser, flag, help, n=3):
    parser.add_argument(
        flag, nargs=n, type=float, metavar=("X", "Y", "Z") if n == 3 else ("A", "B"), help=help
    )


# Per kind: (option dest, case.json field, option as typed).
_OPTIONS = {
    "osteotomy": (
        ("center", "center_mm", "--center"),
        ("normal", "normal", "--normal"),
        ("size", "size_mm", "--size"),
        ("axis", "in_plane_axis", "--axis"),
        ("kerf", "kerf_mm", "--kerf"),
    ),
    "distractor": (
        ("device", "device", "--device"),
        ("fixed", "fixed_point_mm", "--fixed"),
        ("moving", "moving_point_mm", "--moving"),
        ("vector", "vector", "--vector"),
        ("target", "target_mm", "--target"),
        ("curve_toward", "curve_toward", "--curve-toward"),
    ),
    "device": (
        ("device_kind", "kind", "--kind"),
        ("stroke", "stroke_mm", "--stroke"),
        ("mm_per_turn", "mm_per_turn", "--mm-per-turn"),
        ("track_radius", "track_radius_mm", "--track-radius"),
        ("description", "description", "--description"),
    ),
}

_EXAMPLES = {
    "osteotomy": (
        "planner osteotomy add CASE --name ramus_left --center 30 10 -20 "
        "--normal 0 0 1 --size 30 20\n"
        "  planner osteotomy set CASE --name ramus_left --perpendicular-to left"
    ),
    "distractor": (
        "planner distractor add CASE --name left --device linear-20 --fixed 30 10 -10 "
        "--moving 30 5 -30 --vector 0 -1 0 --target 15"
    ),
    "device": (
        "planner device add CASE --name my-curve --kind curvilinear --stroke 25 "
        "--mm-per-turn 0.5 --track-radius 50"
    ),
}


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _item_parsers(sub, kind, help_text):
    p = add_verb(sub, kind, help_text, f"planner {kind} list CASE\n  {_EXAMPLES[kind]}")
    actions = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    made = {}
    for action, text in (
        ("add", f"add {_a(kind)}"),
        ("set", f"change fields of {_a(kind)} (the others are kept)"),
        ("remove", f"remove {_a(kind)}"),
    ):
        example = _EXAMPLES[kind].split("\n")[0].replace(" add ", f" {action} ")
        if action == "remove":
            example = f"planner {kind} remove CASE --name NAME"
        a = add_verb(actions, action, text, example)
        a.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
        a.add_argument("--name", required=True, help=f"the {kind}'s name (unique in the case)")
        a.set_defaults(func=_edit, item=kind, mode=action)
        made[action] = a
    ls = add_verb(actions, "list", f"list the case's {kind} entries", f"planner {kind} list CASE")
    ls.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    ls.set_defaults(func=_list, item=kind)
    return made["add"], made["set"]


def _add_osteotomy(sub):
    for p in _item_parsers(sub, "osteotomy", f"a bounded planar cut ({LPS})"):
        _vec(p, "--center", f"centre of the cut rectangle, {LPS}")
        g = p.add_mutually_exclusive_group()
        _vec(
            g,
            "--normal",
            "normal of the cut plane, an LPS direction of any length; either sign gives the "
            "same cut",
        )
        g.add_argument(
            "--perpendicular-to",
            metavar="DISTRACTOR",
            help="set the normal to this distractor's vector (the cut square to the pull)",
        )
        _vec(p, "--size", "extent of the cut in its plane: along --axis, then across it, mm", n=2)
        _vec(
            p,
            "--axis",
            "in-plane direction of the first --size, LPS (default: the in-plane direction "
            "closest to superior, +z; for an axial cut, anterior, -y)",
        )
        p.add_argument(
            "--kerf", type=float, metavar="MM", help="width the saw removes, mm (default 1.0)"
        )


def _add_distractor(sub):
    for p in _item_parsers(sub, "distractor", "a placed distraction device"):
        p.add_argument("--device", help="catalog device name (see 'planner device list CASE_DIR')")
        _vec(p, "--fixed", f"footplate point on the bone that stays, {LPS}")
        _vec(p, "--moving", f"footplate point on the segment that moves, {LPS}")
        _vec(
            p,
            "--vector",
            "direction in which the moving segment goes (LPS, any length: e.g. 0 -1 0 is "
            "anterior, 0 0 1 superior)",
        )
        p.add_argument(
            "--target", type=float, metavar="MM", help="planned length, mm (<= the stroke)"
        )
        _vec(
            p,
            "--curve-toward",
            "curvilinear devices only: LPS direction from the moving footplate toward the "
            "centre of the track (the side the path bends to)",
        )


def _add_device(sub):
    for p in _item_parsers(sub, "device", "a device type added to the case's catalog"):
        p.add_argument(
            "--kind",
            dest="device_kind",
            choices=("linear", "curvilinear"),
            help="linear: the footplate moves along the rod; curvilinear: along a circular track",
        )
        p.add_argument(
            "--stroke", type=float, metavar="MM", help="longest distraction it allows, mm"
        )
        p.add_argument(
            "--mm-per-turn",
            type=float,
            metavar="MM",
            help="advance per full turn of the activation rod, mm (often 0.5)",
        )
        p.add_argument(
            "--track-radius",
            type=float,
            metavar="MM",
            help="curvilinear devices only: radius of the track, mm",
        )
        p.add_argument("--description", help="free text shown in 'planner device list'")


_PROTOCOL = (
    ("latency", "latency_days", "--latency"),
    ("rate", "rate_mm_per_day", "--rate"),
    ("activations", "activations_per_day", "--activations"),
    ("consolidation", "consolidation_days", "--consolidation"),
    ("start_date", "start_date", "--start-date"),
    ("time", "first_activation_time", "--time"),
)


def _add_protocol(sub):
    p = add_verb(
        sub,
        "protocol",
        "show or change the treatment protocol",
        "planner protocol CASE --latency 1 --rate 1 --activations 2 --start-date 2026-12-01",
    )
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    p.add_argument(
        "--latency", type=float, metavar="DAYS", help="days from surgery to the first turn"
    )
    p.add_argument("--rate", type=float, metavar="MM", help="distraction per day, mm/day")
    p.add_argument("--activations", type=int, metavar="N", help="activations (turns) per day")
    p.add_argument(
        "--consolidation", type=float, metavar="DAYS", help="days of consolidation after"
    )
    p.add_argument("--start-date", metavar="YYYY-MM-DD", help="date of surgery")
    p.add_argument("--time", metavar="HH:MM", help="clock time of each day's first activation")
    p.set_defaults(func=_protocol)


def _add_landmark(sub):
    p = add_verb(
        sub,
        "landmark",
        f"set or remove a named measurement point ({LPS})",
        "planner landmark CASE --name chin --at 0 -40 -50",
    )
    p.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help="the case folder")
    p.add_argument("--name", required=True, help="e.g. chin, condyle_left, condyle_right")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--at", nargs=3, type=float, metavar=("X", "Y", "Z"), help=f"the point, {LPS}")
    g.add_argument("--remove", action="store_true", help="remove the landmark")
    p.set_defaults(func=_landmark)


def _edit(args: argparse.Namespace, out) -> int:
    from planner.plan.case import load_case, save_case
    from planner.plan.case_edit import edit_item, item_labels, locked_case

    options = _OPTIONS[args.item]
    fields = {
        key: list(value) if isinstance(value, list) else value
        for dest, key, _ in options
        if (value := getattr(args, dest, None)) is not None
    }
    with locked_case(args.case_dir):
        case = load_case(args.case_dir)
        if getattr(args, "perpendicular_to", None) is not None:
            fields["normal"] = list(_perpendicular_to(case, args.perpendicular_to))
        typed = {key: opt for _, key, opt in options}
        if getattr(args, "perpendicular_to", None) is not None:
            typed["normal"] = "--perpendicular-to"
        labels = item_labels(case, args.item, args.name, typed, mode=args.mode)
        case = edit_item(case, args.item, args.name, fields, mode=args.mode, labels=labels)
        save_case(case, args.case_dir)
    verb = {"add": "added", "set": "changed", "remove": "removed"}[args.mode]
    out.print(f"{verb} {args.item} {quote(args.name)} in {show(args.case_dir / 'case.json')}")
    if args.mode != "remove":
        out.print("run 'planner check' to test it against the bone")
    return 0


def _perpendicular_to(case, name: str):
    from planner.errors import PlannerError

    try:
        return case.distractor(name).vector
    except PlannerError as exc:
        raise PlannerError(f"--perpendicular-to: {exc}") from None


def _list(args: argparse.Namespace, out) -> int:
    import dataclasses

    from rich.table import Table

    from planner.plan.case import case_to_dict, load_case
    from planner.plan.devices import device_catalog

    case = load_case(args.case_dir)
    if args.item == "device":
        rows = [dataclasses.asdict(d) for d in device_catalog(case).values()]
    else:
        rows = case_to_dict(case)[
            {"osteotomy": "osteotomies", "distractor": "distractors"}[args.item]
        ]
    if not rows:
        out.print(f"no {args.item} in the case")
        return 0
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(show(format_value(row.get(k))) for k in rows[0]))
    out.print(table)
    return 0


def _protocol(args: argparse.Namespace, out) -> int:
    import dataclasses

    from planner.plan.case import load_case, save_case
    from planner.plan.case_edit import edit_protocol, locked_case

    changes = {
        key: value for dest, key, _ in _PROTOCOL if (value := getattr(args, dest)) is not None
    }
    if changes:
        labels = {f"protocol.{key}": opt for _, key, opt in _PROTOCOL}
        with locked_case(args.case_dir):
            case = edit_protocol(load_case(args.case_dir), changes, labels=labels)
            save_case(case, args.case_dir)
    else:
        case = load_case(args.case_dir)
    for f in dataclasses.fields(case.protocol):
        out.print(f"{f.name:<24}{show(getattr(case.protocol, f.name))}")
    return 0


def _landmark(args: argparse.Namespace, out) -> int:
    from planner.plan.case import load_case, save_case
    from planner.plan.case_edit import locked_case, set_landmark

    labels = {f"landmarks_mm.{args.name}": "--at"}
    with locked_case(args.case_dir):
        case = load_case(args.case_dir)
        point = None if args.remove else args.at
        save_case(set_landmark(case, args.name, point, labels=labels), args.case_dir)
    out.print(f"{'removed' if args.remove else 'set'} landmark {quote(args.name)}")
    return 0
