"""``GET /v1/requests``: the recent-requests log, or the usage history (``store/history.py``).

Plain ``GET /v1/requests`` (and its ``backend``/``model``/``outcome``/``limit``) stays the
in-memory log the dashboard reads, with its short-lived detail. Any of ``key``, ``host``,
``surface``, ``status``, ``since``, ``until``, ``cursor``, ``format`` or ``source=history``
asks the history instead: every request since retention began, surviving restarts, as a JSON
page with ``next_cursor`` or (``format=csv``) a download of every matching row, streamed a
page at a time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response, StreamingResponse

from atmosphere.api.admin.usage import READ_YOUR_WRITES_S, _moment, store_of
from atmosphere.api.common import json_response
from atmosphere.errors import HistoryUnavailable, InvalidRequest
from atmosphere.observe.requestlog import RequestLog
from atmosphere.store.history import COLUMNS, BadCursor, HistoryQuery, decode_cursor, history_page, history_pages
from atmosphere.store.usage import failure_reason

router = APIRouter()
_LOG_LIMIT = 500  # the in-memory log's most entries in one answer
ASKS_HISTORY = ("key", "host", "surface", "status", "since", "until", "cursor", "format")
MAX_LIMIT = 1000
_EXPORT_PAGE = 1000
_STATUS = re.compile(r"([1-5])(?:xx|XX)|([1-5]\d\d)")


@router.get("/v1/requests")
async def recent_requests(
    request: Request, backend: str | None = None, model: str | None = None, outcome: str | None = None, limit: str = "100"
) -> Response:
    if wants_history(request.query_params):  # filters the log has not: the usage history answers
        return await history_answer(request)
    if outcome not in (None, "", "ok", "fallback", "error"):
        raise InvalidRequest("'outcome' must be one of ok, fallback, error.", param="outcome")
    log: RequestLog = request.app.state.requests
    found = log.query(backend=backend or None, model=model or None, outcome=outcome or None, limit=_limit(limit, _LOG_LIMIT))
    return json_response({"requests": [entry.to_dict() for entry in found]})


def wants_history(params: Mapping[str, str]) -> bool:
    return params.get("source") == "history" or any(name in params for name in ASKS_HISTORY)


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    return value or None


def _status(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    match = _STATUS.fullmatch(text)
    if match is None:
        raise InvalidRequest("'status' must be a status code (404) or a class (4xx).", param="status")
    if match.group(1):
        low = int(match.group(1)) * 100
        return low, low + 99
    return int(text), int(text)


def _limit(text: str | None, most: int) -> int:
    """``limit``: 100 when left out, else a whole number from 1 to ``most`` (a 400 saying so)."""
    if text is None:
        return 100
    try:
        count = int(text)
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    if not 1 <= count <= most:
        raise InvalidRequest(f"'limit' must be between 1 and {most}.", param="limit")
    return count


def parse_query(params: Mapping[str, str]) -> tuple[HistoryQuery, str]:
    """The query and the format (json or csv) the parameters ask for; a 400 naming a bad one."""
    source = params.get("source", "history")
    if source != "history":
        raise InvalidRequest("'source' must be history (or left out).", param="source")
    form = (_text(params, "format") or "json").lower()
    if form not in ("json", "csv"):
        raise InvalidRequest("'format' must be json or csv.", param="format")
    since, until = _moment(params.get("since"), "since"), _moment(params.get("until"), "until")
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("'since' must be before 'until'.", param="since")
    cursor = _text(params, "cursor")
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except BadCursor:
        raise InvalidRequest("'cursor' is not one this endpoint gave out.", param="cursor") from None
    query = HistoryQuery(
        key=_text(params, "key"),
        model=_text(params, "model"),
        host=_text(params, "host"),
        surface=_text(params, "surface"),
        status=_status(_text(params, "status")),
        since_ms=since,
        until_ms=until,
        limit=_limit(_text(params, "limit"), MAX_LIMIT),
        after=after,
    )
    return query, form


def _unreadable(exc: BaseException) -> HistoryUnavailable:
    return HistoryUnavailable(f"The usage history cannot be read: {failure_reason(exc)}.")


async def history_answer(request: Request) -> Response:
    query, form = parse_query(request.query_params)
    store = store_of(request)
    if not store.available or store.engine is None:
        raise HistoryUnavailable(f"The usage history cannot be opened: {store.reason}.")
    await store.usage.catch_up(READ_YOUR_WRITES_S)
    engine = store.engine
    if form == "json":
        try:
            rows, cursor = await history_page(engine, query)
        except (SQLAlchemyError, OSError) as exc:
            raise _unreadable(exc) from None
        return json_response({"object": "list", "data": rows, "next_cursor": cursor, "source": "history"})
    # The export: every matching row. The first page is read before answering, so a database
    # that cannot be read is still a 503, not a 200 cut short.
    pages = history_pages(engine, replace(query, limit=_EXPORT_PAGE))
    try:
        first: list[dict[str, Any]] = await anext(pages, [])
    except (SQLAlchemyError, OSError) as exc:
        raise _unreadable(exc) from None
    return StreamingResponse(
        _csv(first, pages),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="atmosphere-requests.csv"'},
    )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def _csv(first: list[dict[str, Any]], rest: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    page: list[dict[str, Any]] | None = first
    while page is not None:
        writer.writerows([_cell(row[name]) for name in COLUMNS] for row in page)
        yield flush()
        # A read failing from here on is too late for a status code: the download ends short.
        page = await anext(rest, None)
