"""The `attune` console script as a user runs it."""

import shutil
import subprocess
import sys

import pytest
from attune.tui.main import main


def run(*args):
    exe = shutil.which("attune")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "attune.tui.main", *args]
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


# -- engine commands ---------------------------------------------------------------


@pytest.fixture
def cli_lib(tmp_path):
    from tests.engine.conftest import write_fixture_csv

    csv_path = write_fixture_csv(tmp_path / "fixture.csv")
    lib = str(tmp_path / "lib")
    out = run("import", "spotify", str(csv_path), "--library", lib)
    assert out.returncode == 0, out.stderr
    assert "12 new tracks" in out.stdout
    return lib


def test_search_formats(cli_lib):
    out = run("search", "genre:soul", "-artist:green", "--library", cli_lib)
    assert out.returncode == 0, out.stderr
    assert "Ann Peebles" in out.stdout and "2 results" in out.stdout
    import json

    rows = json.loads(run("search", "artist:green", "--format", "json", "--library", cli_lib).stdout)
    assert [r["track_id"] for r in rows] == ["t01", "t02"]
    csv_text = run("search", "artist:green", "--format", "csv", "--library", cli_lib).stdout
    assert csv_text.splitlines()[0].startswith("track_id,title,artist")
    m3u = run("search", "artist:green", "--format", "m3u", "--library", cli_lib).stdout
    assert m3u.startswith("#EXTM3U")


def test_library_before_or_after_the_command(cli_lib, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTUNE_LIBRARY", str(tmp_path / "elsewhere"))
    before = run("--library", cli_lib, "search", "artist:green", "--format", "csv")
    assert before.returncode == 0, before.stderr
    assert [line.split(",")[0] for line in before.stdout.splitlines()[1:]] == ["t01", "t02"]
    after = run("search", "artist:green", "--format", "csv", "--library", cli_lib)
    assert after.stdout == before.stdout
    # the option after the command wins over the one before it
    both = run("--library", str(tmp_path / "elsewhere"), "playlist", "list", "--library", cli_lib)
    assert "Sunday Morning" in both.stdout


def test_limit_is_a_cap_and_columns_pick_columns(cli_lib):
    out = run("search", "limit:2", "--limit", "100000", "--format", "csv", "--library", cli_lib)
    assert len(out.stdout.splitlines()) == 1 + 2
    out = run("search", "", "--limit", "3", "--format", "csv", "--columns", "title,energy,tags", "--library", cli_lib)
    lines = out.stdout.splitlines()
    assert lines[0] == "title,energy,tags" and len(lines) == 1 + 3
    bad = run("search", "", "--columns", "title,nope", "--library", cli_lib)
    assert bad.returncode == 2 and "unknown column 'nope'" in bad.stderr


def test_environment_names_the_library(cli_lib, monkeypatch):
    monkeypatch.setenv("ATTUNE_LIBRARY", cli_lib)
    out = run("search", "artist:green", "--format", "csv")
    assert out.returncode == 0 and "t01" in out.stdout


def test_recipe_expand_explain_playlists(cli_lib, tmp_path):
    recipe = run("recipe", "Sunday Morning", "--library", cli_lib)
    assert recipe.returncode == 0 and 'like:playlist("Sunday Morning")' in recipe.stdout
    again = run("search", recipe.stdout.strip(), "--library", cli_lib)
    assert again.returncode == 0, again.stderr
    expand = run("expand", "Gym", "--limit", "3", "--explain", "--library", cli_lib)
    assert expand.returncode == 0 and "new artist, related" in expand.stdout
    plan = run("explain", "like:playlist(Gym)", "energy>0.5", "--library", cli_lib)
    assert "SQL part: (energy > 0.5)" in plan.stdout
    assert run("playlist", "create", "Mine", "t01", "t02", "--library", cli_lib).returncode == 0
    assert run("playlist", "add", "Mine", "t03", "--library", cli_lib).returncode == 0
    assert run("playlist", "remove", "Mine", "t01", "--library", cli_lib).returncode == 0
    show = run("playlist", "show", "Mine", "--library", cli_lib).stdout
    assert "Al Green - Tired of Being Alone" in show and "Ann Peebles" in show
    path = tmp_path / "mine.xspf"
    assert run("playlist", "export", "Mine", "--format", "xspf", "-o", str(path), "--library", cli_lib).returncode == 0
    assert run("playlist", "import", str(path), "--name", "Copy", "--library", cli_lib).returncode == 0
    assert "Copy\t2 tracks" in run("playlist", "list", "--library", cli_lib).stdout
    assert run("playlist", "delete", "Copy", "--yes", "--library", cli_lib).returncode == 0


def test_user_errors_exit_2_without_traceback(cli_lib):
    for args in (["search", "energey<0.4"], ["recipe", "Nope"], ["search", 'like:"the"'], ["playlist", "create", "X", "bad"]):
        out = run(*args, "--library", cli_lib)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr


def test_analyze(cli_lib):
    out = run("analyze", "--library", cli_lib, "--spaces", "attr,colisten", "--outliers", "Odd Names")
    assert out.returncode == 0, out.stderr
    assert "== colisten" in out.stdout and "outliers of 'Odd Names'" in out.stdout
    assert "attr vs colisten: paired t =" in out.stdout
    out = run("analyze", "--library", cli_lib)
    assert "Delta histogram" in out.stdout and "audio: skipped" in out.stdout


# -- plain words, genres, tags -------------------------------------------------------------


def test_ask_prints_the_reading_the_query_and_results(cli_lib):
    out = run("ask", "calm", "soul", "from", "the", "70s", "--library", cli_lib)
    assert out.returncode == 0, out.stderr
    assert "calm" in out.stdout and "query:   genre:soul energy<0.4 year:1970..1979" in out.stdout
    assert "I Can't Stand the Rain" in out.stdout and "Let's Stay Together" in out.stdout
    only = run("ask", "--query-only", "calm soul from the 70s", "--library", cli_lib)
    assert only.stdout == "genre:soul energy<0.4 year:1970..1979\n"
    import json

    data = json.loads(run("ask", "--format", "json", "calm soul, no jazz", "--library", cli_lib).stdout)
    assert data["query"] == "genre:soul energy<0.4"
    assert data["terms"][0] == {"phrase": "calm", "terms": "energy<0.4", "how": "word list", "dropped": False}
    assert [r["track_id"] for r in data["results"]] == ["t01", "t03"]


def test_genres_lists_and_overrides(cli_lib):
    out = run("genres", "--library", cli_lib)
    assert out.returncode == 0, out.stderr
    assert "big room" in out.stdout and "exact" in out.stdout
    out = run("genres", "set", "big room", "edm", "--library", cli_lib)
    assert out.returncode == 0, out.stderr
    listing = run("genres", "--library", cli_lib).stdout
    assert any(line.startswith("big room") and "override" in line for line in listing.splitlines())
    assert run("genres", "unset", "nope", "--library", cli_lib).returncode == 2


def test_tags_related_and_recipe_explain(cli_lib):
    out = run("tags", "related", "soul", "--library", cli_lib)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].split()[1] == "r&b"  # soul's tracks are all r&b too
    bad = run("tags", "related", "sould", "--library", cli_lib)
    assert bad.returncode == 2 and "did you mean 'soul'" in bad.stderr
    recipe = run("recipe", "--explain", "Sunday Morning", "--library", cli_lib)
    assert recipe.returncode == 0, recipe.stderr
    assert "genre cluster: " in recipe.stdout and "query:         genre:=" in recipe.stdout
