"""The lower layers stay light: importing them must not pull in torch or textual."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "textual", "tensorflow", "sentence_transformers")


@pytest.mark.parametrize("module", ["attune.query", "attune.engine", "attune.engine.library", "attune.engine.ask"])
def test_layer_imports_nothing_heavy(module):
    code = (
        f"import sys, {module}\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_query_imports_nothing_else_of_ours():
    code = (
        "import sys, attune.query\n"
        "ours = sorted(m for m in sys.modules if m.startswith('attune.') and not m.startswith('attune.query'))\n"
        "print(','.join(ours))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_bare_top_level_packages_installed(tmp_path):
    # Run away from the repository root, where the folders themselves are importable.
    code = (
        "import importlib.util\n"
        "print(','.join(n for n in ('query', 'engine', 'indexer', 'tui') if importlib.util.find_spec(n)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == ""


def test_opening_a_library_does_not_build_lancedbs_rest_client_and_that_client_still_loads(tmp_path):
    """`engine/storage/quickimport.py`: the REST namespace client's API modules (0.8-1.6 s of
    pydantic at import) are not imported for a library in a folder; asked for, they load."""
    code = (
        "import sys\n"
        "from attune.engine import Library\n"
        f"lib = Library.open({str(tmp_path / 'lib')!r})\n"
        "lib.playlists.create('P', [])\n"
        "print(len(lib.search('energy>0.5').frame), 'lance_namespace_urllib3_client.api' in sys.modules)\n"
        "import lance_namespace_urllib3_client as client\n"
        "print(client.TableApi.__name__, 'lance_namespace_urllib3_client.api.table_api' in sys.modules)\n"
        "from lance_namespace_urllib3_client import Configuration\n"
        "print(Configuration.__name__, hasattr(client, 'NoSuchThing'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["0 False", "TableApi True", "Configuration False"], out.stdout + out.stderr


@pytest.mark.parametrize("given, expected", [(None, "max(os.cpu_count(), 8)"), ("3", "3")])
def test_lances_thread_pool_is_sized_for_overlapping_reads_unless_the_user_sized_it(given, expected):
    """`quickimport.lance_threads`: set before LanceDB first runs (it reads it once)."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "LANCE_CPU_THREADS"} | ({"LANCE_CPU_THREADS": given} if given else {})
    code = ("import os\nfrom attune.engine import Library\n"
            f"print(os.environ['LANCE_CPU_THREADS'] == str({expected}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "True", out.stdout + out.stderr
