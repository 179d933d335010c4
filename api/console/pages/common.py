"""Helpers the console pages share: the context, the runtime, visible cases, page params."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from custodyd.api.deps import get_ctx, get_runtime
from custodyd.api.pagination import PageParams
from custodyd.api.routers import cases as cases_api
from custodyd.daemon.auth import Principal
from custodyd.daemon.errors import ServiceUnavailable

ALL = PageParams(limit=1000, offset=0)


def runtime_of(request: Request) -> Any:
    runtime = get_runtime(request)
    if runtime is None:
        raise ServiceUnavailable(
            "the daemon (udev monitor, acquisition workers) does not run in this process; "
            "start the console with `custodyd serve`"
        )
    return runtime


def case_refs(request: Request, principal: Principal) -> list[str]:
    """The cases the caller may see (through the API's own list)."""
    found = cases_api.list_(params=ALL, principal=principal, ctx=get_ctx(request))
    return [c.ref for c in found.items]


def open_case_refs(request: Request, principal: Principal) -> list[str]:
    found = cases_api.list_(params=ALL, principal=principal, ctx=get_ctx(request))
    return [c.ref for c in found.items if c.status != "closed"]
