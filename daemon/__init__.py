"""custodyd's service core: imaging, evidence store, ledger, orders, scheduler, CLI."""

__version__ = "0.1.0"
