"""CLI verbs of the guides: ``planner guide add/set/remove/list``.

Each edit reads ``case.json``, changes one guide, validates the whole case and writes it
back atomically. The guides themselves are built and checked against the bone by
``planner check``, ``planner build`` and ``planner demo``.
"""

from __future__ import annotations

import argparse

from planner.cli.common import add_verb, format_value, path_arg, quote, show

CASE_HELP = "the case folder (holding case.json)"

__all__ = ["add_commands"]

# CLI option -> case.json field
_FIELDS = {
    "osteotomy": "osteotomy",
    "distractor": "distractor",
    "side": "side",
    "positioning": "positioning",
    "margin": "margin_mm",
    "wall": "wall_mm",
    "clearance": "clearance_mm",
    "printer": "printer",
    "blade": "blade_mm",
    "slot_wall": "slot_wall_mm",
    "slot_depth": "slot_depth_mm",
    "slot_ends": "slot_ends",
    "hole_diameter": "hole_diameter_mm",
    "sleeve_length": "sleeve_length_mm",
    "sleeve_wall": "sleeve_wall_mm",
    "insertion": "insertion",
    "label": "label",
    "label_depth": "label_depth_mm",
}


def add_commands(sub) -> None:
    """Register ``planner guide`` and its actions."""
    from planner.plan.case import GUIDE_POSITIONING, GUIDE_SIDES, SLOT_ENDS

    text = "printed cutting and positioning guides (one per osteotomy)"
    p = sub.add_parser("guide", help=text, description=text)
    actions = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    for action, help_text, example in (
        ("add", "add a guide for an osteotomy", "--osteotomy ramus_left --printer resin"),
        ("set", "change settings of a guide", "--name ramus_left --wall 3.5 --slot-ends open"),
        ("remove", "remove a guide", "--name ramus_left"),
    ):
        a = add_verb(actions, action, help_text, f"planner guide {action} CASE {example}")
        a.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help=CASE_HELP)
        a.add_argument(
            "--name",
            required=action != "add",
            help="the guide's name (unique in the case; add: the osteotomy's name)",
        )
        a.set_defaults(func=_edit, mode=action)
        if action == "remove":
            continue
        a.add_argument("--osteotomy", required=action == "add", help="the cut the slot guides")
        a.add_argument(
            "--distractor",
            help="whose footplate screw holes to drill ('' for none; add: the one across the cut)",
        )
        a.add_argument("--side", choices=GUIDE_SIDES, help="bone surface (default lateral)")
        a.add_argument(
            "--positioning",
            choices=GUIDE_POSITIONING,
            help="drill holes in the cutting guide, in a second guide, or none",
        )
        a.add_argument("--margin", type=float, help="reach over the bone from the cut, mm (8)")
        a.add_argument("--wall", type=float, help="wall thickness, mm (3; at least 1.5)")
        group = a.add_mutually_exclusive_group()
        group.add_argument("--clearance", type=float, help="printing clearance, mm (0.25)")
        group.add_argument(
            "--printer",
            choices=("resin", "filament"),
            help="clearance preset: resin 0.25 mm, filament 0.4 mm",
        )
        a.add_argument("--blade", type=float, help="saw blade thickness, mm (1.0)")
        a.add_argument("--slot-wall", type=float, help="wall each side of the slot, mm (3)")
        a.add_argument("--slot-depth", type=float, help="least slot depth, mm (6)")
        a.add_argument("--slot-ends", choices=SLOT_ENDS, help="open or closed slot ends")
        a.add_argument(
            "--hole-diameter", type=float, help="drill holes, mm (screw + 2 × clearance)"
        )
        a.add_argument("--sleeve-length", type=float, help="drill sleeves, mm (0: none)")
        a.add_argument("--sleeve-wall", type=float, help="sleeve wall, mm (1.5)")
        a.add_argument(
            "--insertion",
            nargs=3,
            type=float,
            metavar=("X", "Y", "Z"),
            help="direction the guide goes onto the bone (LPS; default: found)",
        )
        a.add_argument(
            "--label",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="engrave case label, side and osteotomy name",
        )
        a.add_argument("--label-depth", type=float, help="engraving depth, mm (1.0)")
    ls = add_verb(
        actions, "list", "list the case's guides and their settings", "planner guide list CASE"
    )
    ls.add_argument("case_dir", type=path_arg, metavar="CASE_DIR", help=CASE_HELP)
    ls.set_defaults(func=_list)


def _edit(args: argparse.Namespace, out) -> int:
    from planner.guides.edit import edit_guide
    from planner.plan.case import load_case, save_case
    from planner.plan.case_edit import locked_case

    case = load_case(args.case_dir)
    fields = {
        key: getattr(args, opt)
        for opt, key in _FIELDS.items()
        if getattr(args, opt, None) is not None
    }
    name = args.name
    if args.mode == "add":
        name = name or args.osteotomy
        if "distractor" not in fields and fields.get("positioning") != "none":
            from planner.guides.run import default_distractor

            if args.osteotomy in {o.name for o in case.osteotomies}:
                fields["distractor"] = default_distractor(case, args.osteotomy)
            if not fields.get("distractor"):
                fields["positioning"] = "none"
    with locked_case(args.case_dir):  # re-read under the lock: keep edits made meanwhile
        case = edit_guide(load_case(args.case_dir), name, fields, mode=args.mode)
        save_case(case, args.case_dir)
    verb = {"add": "added", "set": "changed", "remove": "removed"}[args.mode]
    out.print(f"{verb} guide {quote(name)} in {show(args.case_dir / 'case.json')}")
    if args.mode != "remove":
        out.print("run 'planner check' to build it on the bone and check it")
    return 0


def _list(args: argparse.Namespace, out) -> int:
    from rich.table import Table

    from planner.plan.case import case_to_dict, load_case

    guides = case_to_dict(load_case(args.case_dir))["guides"]
    if not guides:
        out.print("no guide in the case; add one with 'planner guide add'")
        return 0
    table = Table("setting", *(show(g["name"]) for g in guides))
    keys = [k for k in guides[0] if k != "name"]
    for g in guides[1:]:
        keys += [k for k in g if k not in keys and k != "name"]
    for key in keys:
        table.add_row(key, *(show(format_value(g.get(key, ""))) for g in guides))
    out.print(table)
    return 0
