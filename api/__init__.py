"""Thin HTTP layer (FastAPI) over the daemon services. Nothing imports this package."""
