"""The console's own script and style sheet, served from the package (nothing from elsewhere)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from custodyd.api.console.web import HERE, ConsoleRoute
from custodyd.daemon.errors import NotFound

router = APIRouter(route_class=ConsoleRoute)

FILES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    media_type = FILES.get(name)
    if media_type is None:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(
        HERE / "static" / name, media_type=media_type, headers={"Cache-Control": "no-cache"}
    )
