"""The acquisition tests' fixtures (small blocks and windows, a random source file)."""

from tests.imaging.conftest import ictx, small_settings, source_file  # noqa: F401
