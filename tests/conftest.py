import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI runs the property tests harder than a developer's quick loop.
settings.register_profile("dev", max_examples=300, deadline=None)
settings.register_profile(
    "ci", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

TESTS = Path(__file__).parent
#: Fixtures that make a test slow (a subprocess per command, the musicnn weights), and the
#: markers a test using them gets.
_FIXTURE_MARKS = {"cli_lib": ("slow",), "models_dir": ("models", "slow")}


def pytest_collection_modifyitems(config, items):
    """Markers by place and by fixture, so `pytest -m "not slow"` is the quick loop:
    tests/tui/ is `tui` (and slow: each test starts the app); a test that needs the
    converted musicnn weights is `models`."""
    for item in items:
        try:
            part = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        except ValueError:
            part = ""
        names = set()
        if part == "tui":
            names |= {"tui", "slow"}
        for fixture, marks in _FIXTURE_MARKS.items():
            if fixture in getattr(item, "fixturenames", ()):
                names |= set(marks)
        for name in sorted(names):
            item.add_marker(getattr(pytest.mark, name))
