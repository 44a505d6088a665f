"""Fixtures of the integration tests (helpers live in simtest.py)."""
from simtest import sim_image  # noqa: F401  (re-exported as a fixture)
