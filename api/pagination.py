"""Limit/offset pagination with a hard cap, and the list envelope every list returns.

``limit`` defaults to 100 and may not exceed 1000; the envelope carries
``next_offset`` (``null`` on the last page) so clients page without counting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10**12

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int

    def slice(self, items: Sequence[T]) -> tuple[list[T], int | None]:
        """The page of an in-memory sequence and the next offset (None when done)."""
        page = list(items[self.offset : self.offset + self.limit])
        nxt = self.offset + self.limit if self.offset + self.limit < len(items) else None
        return page, nxt

    def window(self) -> tuple[int, int]:
        """offset and limit+1 for a query: one extra row tells whether a next page exists."""
        return self.offset, self.limit + 1

    def trim(self, rows: Sequence[T]) -> tuple[list[T], int | None]:
        """Rows fetched with :meth:`window`, cut to the page, and the next offset."""
        if len(rows) > self.limit:
            return list(rows[: self.limit]), self.offset + self.limit
        return list(rows), None


async def page_params(
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page"),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Items to skip"),
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None


def page(items: list[T], params: PageParams, next_offset: int | None) -> Page[T]:
    """The envelope of one page (``items`` typed as the list's own response model)."""
    return Page(items=items, limit=params.limit, offset=params.offset, next_offset=next_offset)
