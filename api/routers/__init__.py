"""Routers: each module exposing ``router`` (an ``APIRouter``) is included by ``create_app``."""
