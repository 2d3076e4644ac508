"""``/v1/models/equivalents``: model names that several hosts serve under different names
(listed, suggested from the cards, accepted). Included before the OpenAI face's routes:
``/v1/models/equivalents`` is not a model id.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere.api.body import read_json, require_object
from atmosphere.api.common import body_limit, json_response
from atmosphere.errors import Conflict, InvalidRequest, StateNotSaved
from atmosphere.router.equivalents import EquivalentError, Equivalents, TooManyEquivalents, check, suggest
from atmosphere.router.integrations import Integrations

router = APIRouter()


def _cards(request: Request) -> Integrations:
    return request.app.state.integrations  # type: ignore[no-any-return]


async def _body(request: Request) -> dict[str, Any]:
    return require_object(await read_json(request, body_limit(request)))


def _equivalents(request: Request) -> Equivalents:
    return request.app.state.equivalents  # type: ignore[no-any-return]


@router.get("/v1/models/equivalents")
async def list_equivalents(request: Request) -> Response:
    return json_response({"equivalents": [e.to_dict() for e in _equivalents(request).all()]})


@router.get("/v1/models/equivalents/suggestions")
async def equivalent_suggestions(request: Request) -> Response:
    return json_response({"suggestions": suggest(_cards(request).serving_models(), _equivalents(request))})


@router.post("/v1/models/equivalents")
async def accept_equivalent(request: Request) -> Response:
    data = await _body(request)
    try:
        equivalent = check(data.get("name"), data.get("members"))
    except EquivalentError as exc:
        raise InvalidRequest(str(exc), param="members" if "member" in str(exc) else "name") from None
    unknown = [k for k in equivalent.members if not _cards(request).knows(k) and k not in ("ollama", "llamafarm")]
    if unknown:
        raise InvalidRequest(f"Unknown integration id(s) in 'members': {', '.join(unknown)}.", param="members")
    try:
        await _equivalents(request).add(equivalent)
    except TooManyEquivalents as exc:  # the models file is full: the state refuses, not the request
        raise Conflict(f"{exc}.", code="too_many_equivalents") from None
    except OSError as exc:
        raise StateNotSaved(f"Could not write the models file: {exc.strerror or exc}. Nothing was changed.") from None
    return json_response({"equivalent": equivalent.to_dict()})
