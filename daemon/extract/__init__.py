"""Partial disclosure: one file extracted from a sealed image into a derived evidence item."""

from custodyd.daemon.extract.derive import ExtractRequest, extract

__all__ = ["ExtractRequest", "extract"]
