"""Partial disclosure: one file extracted from a sealed image into a derived evidence item."""

from custodyd.daemon.extract.derive import DerivedItem, ExtractRequest, extract

__all__ = ["DerivedItem", "ExtractRequest", "extract"]
