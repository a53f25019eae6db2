"""The command line under fuzzing: whatever the command, arguments, query or file, no
traceback reaches the terminal and nothing is an internal error; every failure is a
short message and exit status 2 (or 130 for an interrupted prompt)."""

import pytest
from attune.query import render
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.query.strategies import queries

pytestmark = pytest.mark.slow

#: A few thousand examples in CI's profile (each runs one command in this process).
EXAMPLES = min(settings.default.max_examples, 2000)

words = st.sampled_from(["Gym", "Sunday Morning", "Odd Names", "t01", "t12", "nope", "", " ", "-", "--", "genre:soul",
                         "energey<0.4", "like:", "'", '"', "\\", "\x00", "é", "a" * 300, "1", "-1", "0", "9" * 30])
texts = words | st.text(max_size=20) | queries.map(render)
FLAGS = ["--limit", "--format", "--columns", "--explain", "--k", "--holdout", "--spaces", "--outliers", "--top",
         "--as", "--replace", "--yes", "--encoding", "-o", "--query-only", "--min-size", "--seed", "--help"]
flag_values = st.sampled_from(["json", "csv", "m3u", "table", "xspf", "title,artist", "nope", "attr,colisten", "foo",
                               "0", "5", "-3", "0.5", "2", "latin-1", "bogus-codec", "/nonexistent/out.m3u"])
COMMANDS = [
    ["parse"], ["search"], ["explain"], ["ask"], ["recipe"], ["expand"], ["fit"], ["analyze"], ["history"],
    ["restore"], ["genres"], ["genres", "set"], ["genres", "unset"], ["tags", "related"], ["playlist", "list"],
    ["playlist", "show"], ["playlist", "create"], ["playlist", "add"], ["playlist", "remove"], ["playlist", "rename"],
    ["playlist", "delete"], ["playlist", "import"], ["playlist", "export"], ["import", "spotify"], ["index", "--errors"],
    ["models", "list"], ["eval", "expand", "--min-size", "2"],
]
FILES = {
    "csv": st.sampled_from(["track_id,track_name,track_artist,energy\nx1,A,B,0.5\n", "track_id\n\x00\n", "a,b\n1,2,3\n",
                            "track_id,energy\nx2,1e400\n", "track_id,track_name,playlist_name\nt01,Song,Gym\n"])
           | st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    "m3u": st.sampled_from(["#EXTM3U\n/nowhere.mp3\n", "#EXTM3U\nspotify:track:t01\n", "\n\n#\n"]) | st.text(max_size=80),
    "xspf": st.sampled_from(['<playlist xmlns="http://xspf.org/ns/0/"><trackList><track><identifier>t01</identifier></track></trackList></playlist>',
                             "<x>", '<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>']) | st.text(max_size=80),
}


@pytest.fixture(scope="module")
def fuzz_lib(tmp_path_factory, fixture_csv):
    from attune.engine import Library

    path = tmp_path_factory.mktemp("fuzz") / "lib"
    Library.open(path).import_spotify([fixture_csv])
    return path


@st.composite
def invocations(draw, folder):
    command = list(draw(st.sampled_from(COMMANDS)))
    args = draw(st.lists(texts, max_size=3))
    for _ in range(draw(st.integers(0, 2))):
        args += [draw(st.sampled_from(FLAGS)), draw(flag_values)]
    if command[-1] in ("import", "spotify") and draw(st.booleans()):
        kind = draw(st.sampled_from(sorted(FILES)))
        path = folder / f"fuzz.{kind}"
        path.write_bytes(draw(FILES[kind]).encode("utf-8", "surrogatepass"))
        args = [str(path), *args]
    return [*command, *args]


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_no_traceback_ever(fuzz_lib, tmp_path, capsys, monkeypatch, data):
    import io

    from attune.tui.cli.common import run
    from attune.tui.main import _program

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a prompt gets the end of input, as under a script
    argv = data.draw(invocations(tmp_path))
    status = run(_program(), [*argv, "--library", str(fuzz_lib)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, (argv, err)
    assert "internal error" not in err, (argv, err)
    assert status in (0, 1, 2, 130), (argv, status, err)
    if status:
        assert err.strip(), (argv, status)  # every failure says why
