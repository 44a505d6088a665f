"""Fixtures of the integration tests (helpers live in simtest.py)."""
# Re-exported here so that pytest finds the fixture.
from simtest import sim_image  # noqa: F401 pylint: disable=unused-import
