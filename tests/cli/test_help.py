"""Help texts: every option says what it is (units, sign), every verb shows an example."""

import argparse

import pytest

from planner.cli import build, guides, plan, render, scan, view
from planner.cli.main import main

# Every CLI module.
MODULES = (scan, plan, build, view, render, guides)


def leaf_parsers(modules=MODULES):
    """(command words, parser) of every verb the given CLI modules register."""
    root = argparse.ArgumentParser(prog="planner")
    sub = root.add_subparsers()
    for module in modules:
        module.add_commands(sub)
    todo = [((), root)]
    while todo:
        words, parser = todo.pop()
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield " ".join(words), parser
        for action in subs:
            for name, child in action.choices.items():
                todo.append(((*words, name), child))


def test_every_option_has_a_description_and_every_verb_an_example():
    missing, no_example = [], []
    verbs = list(leaf_parsers())
    assert len(verbs) >= 20
    for words, parser in verbs:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{words} {'/'.join(action.option_strings) or action.dest}")
        if "example:\n  planner " not in (parser.epilog or ""):
            no_example.append(words)
    assert missing == [], missing
    assert no_example == [], no_example


def help_of(capsys, *words):
    with pytest.raises(SystemExit):
        main([*words, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_help_states_units_signs_and_true_defaults(capsys):
    text = help_of(capsys, "osteotomy", "add")
    assert "either sign gives the same cut" in text  # --normal
    assert "for an axial cut, anterior, -y" in text  # --axis: the true default
    assert "LPS mm (x to the patient's left, y posterior, z superior)" in text
    assert "--perpendicular-to" in text
    text = help_of(capsys, "distractor", "set")
    assert "direction in which the moving segment goes" in text  # --vector
    assert "planned length, mm" in text
    text = help_of(capsys, "segment")
    assert "300.5 HU on CT calibrated in HU" in text and "cone-beam" in text  # --threshold
    text = help_of(capsys, "protocol")
    assert "mm/day" in text and "example: planner protocol CASE" in text
