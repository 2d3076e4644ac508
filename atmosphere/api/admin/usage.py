"""``GET /v1/usage``: the usage history, aggregated (``store/report.py``).

``?from=&to=`` (ISO-8601 or epoch seconds; default the last day, or 30 days by day),
``bucket=hour|day``, ``group_by=model|key|host``, optional ``key=``. A 503 (``usage_not_recorded``)
when the history cannot be opened; ``recording`` in the answer says whether rows are being
written now and how many were dropped.
"""

from __future__ import annotations

import time
from datetime import datetime

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from atmosphere.api.common import json_response
from atmosphere.errors import HistoryUnavailable, InvalidRequest
from atmosphere.store.report import STEP_MS, UsageQuery, usage_report
from atmosphere.store.service import Store
from atmosphere.store.usage import failure_reason

router = APIRouter(prefix="/v1")

_DEFAULT_SPAN_MS = {"hour": 86_400_000, "day": 30 * 86_400_000}
_MAX_BUCKETS = 24 * 93  # a quarter by the hour, ten years by the day
# The requests answered a moment ago belong in the report (the writer flushes every second or so);
# waiting for them is bounded so a stalled disk cannot stall the dashboard.
READ_YOUR_WRITES_S = 1.0


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def _moment(value: str | None, name: str) -> int | None:
    """Epoch milliseconds from ISO-8601 (``Z`` or an offset) or epoch seconds."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return int(float(text) * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"'{name}' must be an ISO-8601 time or epoch seconds (got {text[:40]!r}).", param=name) from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"'{name}' needs a time zone (end it with Z for UTC).", param=name)
    return int(moment.timestamp() * 1000)


@router.get("/usage")
async def usage(
    request: Request,
    bucket: str = "hour",
    group_by: str = "model",
    key: str | None = None,
) -> Response:
    if bucket not in ("hour", "day"):
        raise InvalidRequest("'bucket' must be hour or day.", param="bucket")
    if group_by not in ("model", "key", "host"):
        raise InvalidRequest("'group_by' must be model, key or host.", param="group_by")
    end = _moment(request.query_params.get("to"), "to") or int(time.time() * 1000)
    start = _moment(request.query_params.get("from"), "from")
    if start is None:
        start = end - _DEFAULT_SPAN_MS[bucket]
    if start >= end:
        raise InvalidRequest("'from' must be before 'to'.", param="from")
    if (end - start) // STEP_MS[bucket] > _MAX_BUCKETS:
        raise InvalidRequest(f"at most {_MAX_BUCKETS} buckets at once: choose bucket=day or a shorter range.", param="from")
    store = store_of(request)
    if not store.available or store.engine is None:
        raise HistoryUnavailable(f"The usage history cannot be opened: {store.reason}.")
    await store.usage.catch_up(READ_YOUR_WRITES_S)
    query = UsageQuery(start, end, bucket, group_by, key or None)  # type: ignore[arg-type]
    try:
        report = await usage_report(store.engine, query)
    except (SQLAlchemyError, OSError) as exc:
        raise HistoryUnavailable(f"The usage history cannot be read: {failure_reason(exc)}.") from None
    return json_response({**report, "recording": store.recording()})
