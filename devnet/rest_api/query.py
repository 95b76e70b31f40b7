"""Query parameters as Sawtooth's REST API and validator read them (ids,
`head`, `reverse`, `start`/`limit`), and paging over already-ordered
resources with Sawtooth's paged envelope (the validator's client_handlers.py:
paging, sorting, id checks)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable

from sawgrid.devnet.rest_api.errors import (
    COUNT_INVALID,
    INVALID_RESOURCE_ID,
    PAGING_INVALID,
    SORT_INVALID,
    ApiError,
    ErrorKind,
)
from sawgrid.devnet.rest_api.messages import Request, Response

DEFAULT_PAGE_SIZE = 100  # validator client_handlers.DEFAULT_PAGE_SIZE
MAX_PAGE_SIZE = 1000  # validator client_handlers.MAX_PAGE_SIZE (larger limits are clamped)

ID_RE = re.compile(r"[0-9a-f]{128}")
ADDRESS_RE = re.compile(r"[0-9a-f]{70}")
PREFIX_RE = re.compile(r"(?:[0-9a-f]{2}){0,35}")


@dataclass(frozen=True)
class Paging:
    """The `start`/`limit` query parameters as given (None when absent)."""

    start: str | None
    limit: int | None

    @property
    def size(self) -> int:
        """The page size the validator uses: default 100, clamped to 1000."""
        return min(self.limit, MAX_PAGE_SIZE) if self.limit else DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class PageInfo:
    """What Sawtooth's validator reports about a page (ClientPagingResponse);
    all empty when there was nothing to list."""

    start: str = ""
    limit: int = 0
    next: str = ""


def parse_paging(req: Request) -> Paging:
    limit = req.query.get("limit")
    if limit is not None:
        try:
            value = int(limit)
        except ValueError:
            raise ApiError(COUNT_INVALID) from None
        if value <= 0:
            raise ApiError(COUNT_INVALID)
        return Paging(req.query.get("start"), value)
    return Paging(req.query.get("start"), None)


def validate_id(resource_id: str) -> str:
    if not ID_RE.fullmatch(resource_id):
        raise ApiError(INVALID_RESOURCE_ID, resource_id)
    return resource_id


def filter_ids(req: Request) -> list[str] | None:
    """The `id` parameter: a comma-separated list of valid ids, or None."""
    ids = req.query.get("id")
    return None if ids is None else [validate_id(i) for i in ids.split(",")]


def head_param(req: Request) -> str | None:
    head = req.query.get("head")
    return None if head is None else validate_id(head)


def reverse_param(req: Request, default_key: str) -> bool:
    """The `reverse` parameter: bare means reverse on the default key, 'false'
    means no, anything else names the sort key(s), which must be the default."""
    reverse = req.query.get("reverse")
    if reverse is None or reverse.lower() == "false":
        return False
    if reverse and reverse.split(",") != [default_key]:
        raise ApiError(SORT_INVALID)
    return True


def json_ids(req: Request, wrong_type: ErrorKind, bad_body: ErrorKind) -> list[str]:
    """Ids from a POST body: a non-empty JSON array of id strings."""
    if req.media_type() != "application/json":
        raise ApiError(wrong_type)
    try:
        ids = json.loads(req.body)
    except (ValueError, RecursionError):  # Sawtooth: aiohttp's request.json() error -> 500
        raise ApiError(bad_body) from None  # (RecursionError: arrays nested thousands deep)
    if not ids or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(bad_body)
    return [validate_id(i) for i in ids]


def query_ids(req: Request, missing: ErrorKind) -> list[str]:
    ids = filter_ids(req)
    if not ids:
        raise ApiError(missing)
    return ids


# --------------------------------------------------------------------------
# Paging over already-ordered resources (the validator's _Pager)
# --------------------------------------------------------------------------
def page_of(items: Iterable[Any], key: Callable[[Any], str], paging: Paging) -> tuple[list, PageInfo]:
    """The page starting at the item whose key is `paging.start` (inclusive).
    A start that is not among a non-empty list is an invalid paging query."""
    it = iter(items)
    page: list = []
    if paging.start:
        seen_any = False
        for item in it:
            seen_any = True
            if key(item) == paging.start:
                page.append(item)
                break
        else:
            if seen_any:
                raise ApiError(PAGING_INVALID)
            return [], PageInfo()
    page.extend(islice(it, paging.size - len(page)))
    if not page:
        return [], PageInfo()
    after = next(it, None)
    return page, PageInfo(key(page[0]), paging.size, key(after) if after is not None else "")


def paged(req: Request, data: list, head: str, paging: Paging, info: PageInfo) -> Response:
    """Sawtooth's paginated envelope (`_wrap_paginated_response`)."""
    body: dict[str, Any] = {
        "data": data,
        "head": head,
        "link": req.link(head=head, start=info.start, limit=info.limit),
        "paging": {"limit": paging.limit, "start": paging.start},
    }
    if info.next:
        body["paging"]["next_position"] = info.next
        body["paging"]["next"] = req.link(head=head, limit=paging.limit, start=info.next)
    return Response(200, body)
