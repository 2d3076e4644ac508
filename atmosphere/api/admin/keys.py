"""``/v1/keys``: client keys made, listed, changed and revoked (the admin key's, when one is set).

``POST`` answers the new key with its ``secret``, the only time the secret is ever sent;
``GET`` lists every key (revoked ones too) with its use: last used, tokens this month,
requests refused (403 / 429) in the last hour; ``PATCH /v1/keys/{id}`` changes the fields
given; ``DELETE /v1/keys/{id}`` revokes at once (the answer is the key, ``revoked_at`` set).
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere.api.body import read_json, require_object
from atmosphere.api.common import body_limit, json_response
from atmosphere.errors import InvalidRequest, KeysUnavailable, NotFound
from atmosphere.store.keys import SURFACE_FAMILIES, ClientKey, DuplicateName, KeyNotFound, KeyStore
from atmosphere.store.limits import Limiter
from atmosphere.store.report import iso
from atmosphere.store.schema import usage
from atmosphere.store.service import Store

router = APIRouter(prefix="/v1")

_LIMITS = {"requests_per_minute": "rpm", "tokens_per_minute": "tpm", "concurrent": "concurrent"}
_MAX_PATTERNS = 64


def _store(request: Request) -> tuple[Store, KeyStore, Limiter]:
    store: Store = request.app.state.store
    if store.keys is None or store.limiter is None or store.engine is None:
        raise KeysUnavailable(f"Client keys cannot be managed: {store.reason}.")
    return store, store.keys, store.limiter


def _when(ms: float | None) -> str | None:
    return iso(int(ms * 1000)) if ms is not None else None


def key_body(key: ClientKey, limiter: Limiter, limited: dict[str, int]) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": _when(key.created_at),
        "last_used_at": _when(key.last_used_at),
        "expires_at": _when(key.expires_at),
        "revoked_at": _when(key.revoked_at),
        "surfaces": list(key.surfaces) if key.surfaces is not None else None,
        "models": list(key.models) if key.models is not None else None,
        "limits": {"requests_per_minute": key.rpm, "tokens_per_minute": key.tpm, "concurrent": key.concurrent},
        "monthly_token_budget": key.monthly_token_budget,
        "tokens_this_month": limiter.tokens_this_month(key.id),
        "log_prompts": key.log_prompts,
        "limited_last_hour": limited.get(key.name, 0),
    }


async def _limited_last_hour(store: Store) -> dict[str, int]:
    """Requests refused per key name (403 or 429) in the last hour, from the history every replica writes."""
    assert store.engine is not None
    since = int((time.time() - 3600) * 1000)
    query = (
        sa.select(usage.c.key, sa.func.count().label("n"))
        .where(usage.c.ts_ms >= since, usage.c.status.in_((403, 429)))
        .group_by(usage.c.key)
    )
    async with store.engine.connect() as connection:
        return {row.key: int(row.n) for row in (await connection.execute(query)).all()}


# --- reading a draft --------------------------------------------------------------------


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 128:
        raise InvalidRequest("'name' must be a non-empty string of at most 128 characters.", param="name")
    name = value.strip()
    if name in ("local", "admin"):
        raise InvalidRequest(f"'name' may not be {name!r}: the history uses it for requests without a client key.", param="name")
    return name


def _expiry(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.timestamp()
    raise InvalidRequest("'expires_at' must be an ISO-8601 time with a zone (or epoch seconds), or null.", param="expires_at")


def _surfaces(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or any(item not in SURFACE_FAMILIES for item in value):
        raise InvalidRequest(
            f"'surfaces' must be null (every surface) or a non-empty list of {', '.join(SURFACE_FAMILIES)}.", param="surfaces"
        )
    return tuple(dict.fromkeys(value))


def _models(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or len(value) > _MAX_PATTERNS
        or any(not isinstance(p, str) or not p.strip() or len(p) > 256 for p in value)
    ):
        raise InvalidRequest(
            f"'models' must be null (every model) or a list of 1 to {_MAX_PATTERNS} patterns such as 'llama3*'.", param="models"
        )
    return tuple(p.strip() for p in value)


def _count(value: Any, param: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"'{param}' must be a whole number of at least 1, or null for no limit.", param=param)
    return value


def _fields(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The key's fields from a request body; with ``partial``, only those given."""
    fields: dict[str, Any] = {}
    if "name" in data or not partial:
        fields["name"] = _name(data.get("name"))
    if "expires_at" in data:
        fields["expires_at"] = _expiry(data["expires_at"])
    if "surfaces" in data:
        fields["surfaces"] = _surfaces(data["surfaces"])
    if "models" in data:
        fields["models"] = _models(data["models"])
    limits = data.get("limits")
    if limits is not None:
        if not isinstance(limits, dict):
            raise InvalidRequest("'limits' must be an object.", param="limits")
        for wire, column in _LIMITS.items():
            if wire in limits:
                fields[column] = _count(limits[wire], f"limits.{wire}")
    if "monthly_token_budget" in data:
        fields["monthly_token_budget"] = _count(data["monthly_token_budget"], "monthly_token_budget")
    if "log_prompts" in data:
        if not isinstance(data["log_prompts"], bool):
            raise InvalidRequest("'log_prompts' must be true or false.", param="log_prompts")
        fields["log_prompts"] = data["log_prompts"]
    return fields


# --- the routes -------------------------------------------------------------------------


@router.get("/keys")
async def list_keys(request: Request) -> Response:
    store, keys, limiter = _store(request)
    limited = await _limited_last_hour(store)
    return json_response({"data": [key_body(key, limiter, limited) for key in await keys.all()]})


@router.post("/keys", status_code=201)
async def create_key(request: Request) -> Response:
    store, keys, limiter = _store(request)
    fields = _fields(require_object(await read_json(request, body_limit(request))), partial=False)
    if fields.get("expires_at") is not None and fields["expires_at"] <= time.time():
        raise InvalidRequest("'expires_at' is in the past.", param="expires_at")
    try:
        key, secret = await keys.create(**fields)
    except DuplicateName:
        raise InvalidRequest(f"A key named '{fields['name']}' exists; revoke it or choose another name.", param="name") from None
    return json_response({**key_body(key, limiter, {}), "secret": secret}, status=201)


@router.patch("/keys/{key_id}")
async def update_key(key_id: str, request: Request) -> Response:
    store, keys, limiter = _store(request)
    fields = _fields(require_object(await read_json(request, body_limit(request))), partial=True)
    try:
        key = await keys.update(key_id, **fields)
    except KeyNotFound:
        raise NotFound(f"No key with id '{key_id}'.", param="id") from None
    except DuplicateName:
        raise InvalidRequest(f"A key named '{fields['name']}' exists; choose another name.", param="name") from None
    return json_response(key_body(key, limiter, await _limited_last_hour(store)))


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, request: Request) -> Response:
    store, keys, limiter = _store(request)
    try:
        key = await keys.revoke(key_id)
    except KeyNotFound:
        raise NotFound(f"No key with id '{key_id}'.", param="id") from None
    return json_response(key_body(key, limiter, await _limited_last_hour(store)))
