"""Benchmarks of whole ``custodyd`` processes against outside tools (``custodyd bench``)."""
