import os

from hypothesis import HealthCheck, settings

# CI runs the property tests harder than a developer's quick loop.
settings.register_profile("dev", max_examples=300, deadline=None)
settings.register_profile(
    "ci", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
