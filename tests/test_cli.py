"""The `attune` console script as a user runs it."""

import shutil
import subprocess
import sys

import pytest

from attune.tui.cli import main


def run(*args):
    exe = shutil.which("attune")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "attune.tui.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("attune, version ")


def test_parse_prints_canonical_form():
    out = run("parse", "genre:soul energy<0.4 like:playlist(x)")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "genre:soul energy<0.4 like:playlist(x)\n"


def test_parse_error_has_caret_and_exit_2():
    out = run("parse", "energey<0.4")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == "error: unknown field 'energey' - did you mean 'energy'?\n  energey<0.4\n  ^\n"
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("args", [("-artist:x",), ("-artist:x", "genre:soul"), ("--", "-artist:x")])
def test_queries_starting_with_minus_are_not_options(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(["parse", *args])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("-artist:x")


def test_parse_explain_lists_parts(capsys):
    with pytest.raises(SystemExit):
        main(["parse", "--explain", 'genre:soul like:playlist("Sunday Morning") limit:5'])
    text = capsys.readouterr().out
    assert "genre contains soul" in text
    assert 'towards playlist "Sunday Morning"' in text
    assert "limit   5" in text
