"""`--help` states every option's default, so a newcomer knows what omitting it means."""

from __future__ import annotations

import argparse

import pytest

from aci_ref.cli import build_parser, main


def subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = sub.choices[name]
    assert isinstance(found, argparse.ArgumentParser)
    return found


@pytest.mark.parametrize("command", ["simulate", "verify-protocol"])
def test_every_option_states_its_default(command: str) -> None:
    options = [
        a
        for a in subcommand(command)._actions
        if a.option_strings and not isinstance(a, argparse._HelpAction)
    ]
    assert options
    for action in options:
        assert action.help is not None and "(default: " in action.help, action.option_strings


def test_simulate_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as leaving:
        main(["simulate", "--help"])
    assert leaving.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for shown in [
        "(default: 2000, or 40 with --validators)",
        "(default: 1/10)",
        "(default: 5)",
        "spec/parameters.toml",
    ]:
        assert shown in out
