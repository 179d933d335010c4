"""The examiner's console: server-rendered pages over the same services as the API.

Another adapter at the edge, beside the JSON API: it calls the API's own
operation functions (so cases, roles and audited reads are decided in exactly
one place), renders HTML with jinja2, and adds a small script of our own for
the live parts (media list, acquisition progress, in-browser proof checks).
``router`` is included by :mod:`custodyd.api.routers.console`.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def _router() -> APIRouter:
    combined = APIRouter(include_in_schema=False)
    package = importlib.import_module("custodyd.api.console.pages")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"custodyd.api.console.pages.{info.name}")
        page_router = getattr(module, "router", None)
        if isinstance(page_router, APIRouter):
            combined.include_router(page_router)
    return combined


router = _router()
