"""The browser console (`/`, `/signin`, `/media`, `/evidence`…); see custodyd.api.console."""

from custodyd.api.console import router

__all__ = ["router"]
