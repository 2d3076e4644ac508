"""The Ollama face: Ollama's native API at ``/api/*``.

So ``OLLAMA_HOST=http://127.0.0.1:8000`` works for the official ``ollama`` clients and Open
WebUI's Ollama connection, over every integration: LlamaFarm's models are listed and served
here too. Chat and generate stream NDJSON unless ``"stream": false``, as Ollama does; a
stream the backend breaks after it started ends with an ``{"error": ...}`` line (its 200
is already sent). Errors are Ollama's ``{"error": "..."}`` with the gateway's status.
Models are managed on the backends, never through the gateway: those calls answer 501.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere import __version__
from atmosphere.api import paths
from atmosphere.api.body import read_json
from atmosphere.api.common import body_limit, executor, json_response, midstream_failure, served_headers
from atmosphere.api.errors import error_headers
from atmosphere.api.middleware.context import surfaces
from atmosphere.api.ollama import parse
from atmosphere.api.ollama import render as shapes
from atmosphere.api.streaming.sse import NDJSON_MEDIA_TYPE, ndjson_line
from atmosphere.api.streaming.waiting import StreamForm, stream_with_heartbeat, until_disconnected
from atmosphere.domain import CatalogModel, ChatRequest, EmbedRequest, GenerateRequest
from atmosphere.errors import AtmosphereError, InvalidRequest, ModelNotFound
from atmosphere.router.executor import Executor, Served, StartedStream

log = logging.getLogger("atmosphere.api.ollama.routes")
router = APIRouter(prefix=paths.OLLAMA, tags=["Ollama API"])
SURFACES = surfaces(
    router, {"/chat": "ollama.chat", "/generate": "ollama.generate", "/embed": "ollama.embed", "/embeddings": "ollama.embed"}
)

_MANAGE = (
    "Atmosphere is a gateway and does not manage models: {verb} models on the integration itself "
    "(for Ollama, run `ollama {verb}` against the Ollama server; for LlamaFarm, edit the project's models)."
)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in Ollama's shape, for any Atmosphere status (also the API-key 401)."""
    return json_response({"error": message}, status=status, headers=headers)


def render_error(exc: AtmosphereError) -> Response:
    message = exc.message
    if isinstance(exc, ModelNotFound) and "not found" not in message:
        message = f"model not found: {message}"  # the ollama CLI tells a missing model by these words
    return error_response(exc.status, message, error_headers(exc))


async def _body(request: Request) -> dict[str, Any]:
    return parse.require_object(await read_json(request, body_limit(request)))


def _served_as(ex: Executor, name: str) -> str:
    """The name the router knows ``name`` by (an Ollama client's ``:latest`` on a LlamaFarm
    alias, an untagged Ollama name), resolved once before the request is run; an unknown
    name goes as given, for the router's own 404."""
    return ex.lookup(name) or name


def _entry(ex: Executor, name: str) -> CatalogModel:
    """A model of the catalogue by the name an Ollama client uses, or the 404."""
    found = ex.catalog.model(_served_as(ex, name))
    if found is None:
        raise ex.model_not_found(name)
    return found


# --- the catalogue --------------------------------------------------------------------


# The Ollama API version this face answers as: clients gate features on it (Codex's
# ``--oss`` mode refuses anything older than 0.13.4). The face implements the /api/* calls
# the ollama client, CLI and Codex make at that version; Atmosphere's own version is a
# separate field so a person can still tell what they are talking to.
OLLAMA_API_VERSION = "0.13.4"


@router.api_route("/version", methods=["GET", "HEAD"])
async def version() -> Response:
    return json_response({"version": OLLAMA_API_VERSION, "atmosphere": __version__})


@router.api_route("/tags", methods=["GET", "HEAD"])
async def tags(request: Request) -> Response:
    """Every model of every integration (the first that serves a name lists it)."""
    return json_response({"models": [shapes.tag_entry(m) for m in executor(request).models()]})


@router.get("/ps")
async def ps(request: Request) -> Response:
    """The models resident in memory now, each once, as the hosts holding them report them."""
    held = await executor(request).residency.running()
    return json_response({"models": [shapes.ps_entry(h) for h in held]})


@router.post("/show")
async def show(request: Request) -> Response:
    """The model's card: an Ollama host's own ``model_info`` passed on; for other models the
    keys the ollama CLI reads as numbers where they are known, else ``model_info: null``."""
    data = await _body(request)
    parse.check_flags(data, "verbose")
    ex = executor(request)
    entry = _entry(ex, parse.model_name(data))
    return json_response(shapes.show_body(entry, await ex.catalog.sheet(entry)))


# --- inference ------------------------------------------------------------------------


@router.post("/chat")
async def chat(request: Request) -> Response:
    started_ns = time.perf_counter_ns()
    data = await _body(request)
    model = parse.model_name(data)
    messages = parse.chat_messages(data.get("messages"))
    req = parse.chat_request(data, model, messages)
    if not messages:  # Ollama's load/unload call: nothing to generate
        return await _load_or_unload(request, model, "chat", "message", parse.keep_alive(data))
    return await _answer(request, req, model, started_ns)


@router.post("/generate")
async def generate(request: Request) -> Response:
    started_ns = time.perf_counter_ns()
    data = await _body(request)
    model = parse.model_name(data)
    prompt = data.get("prompt") or ""
    if not isinstance(prompt, str):
        raise InvalidRequest("prompt must be a string")
    req = parse.generate_request(data, model, prompt)
    if not prompt:  # a load or unload call (``ollama stop`` sends keep_alive 0 and no prompt)
        return await _load_or_unload(request, model, "generate", "response", parse.keep_alive(data))
    return await _answer(request, req, model, started_ns)


async def _answer(request: Request, req: ChatRequest | GenerateRequest, model: str, started_ns: int) -> Response:
    """A chat's or a generate's answer, run under the name it is served as: one body, or a
    stream of ``message`` (chat) or ``response`` (generate) lines."""
    ex = executor(request)
    req.model = _served_as(ex, model)
    is_chat = isinstance(req, ChatRequest)
    if req.stream:
        started = ex.chat_stream(req) if isinstance(req, ChatRequest) else ex.generate_stream(req)
        return await _stream(request, started, shapes.ChatLines(model, "message" if is_chat else "response", started_ns))
    served = await until_disconnected(request, ex.chat(req) if isinstance(req, ChatRequest) else ex.generate(req))
    body = (shapes.chat_body if is_chat else shapes.generate_body)(model, served.value, time.perf_counter_ns() - started_ns)
    return json_response(body, headers=served_headers(served))


async def _load_or_unload(request: Request, model: str, capability: str, field: str, keep_alive: str | float | None) -> Response:
    """Ollama's call with nothing to generate: load the model where it would be served (kept
    for ``keep_alive``), or with ``keep_alive: 0`` unload it from every host that holds it.
    The router's residency action, the same as the dashboard's Warm button."""
    ex = executor(request)
    name = _served_as(ex, model)
    unload = parse.unloads(keep_alive)
    if unload:
        await until_disconnected(request, ex.residency.unload(name))
    else:
        await until_disconnected(request, ex.residency.warm(name, capability, keep_alive))
    return json_response(shapes.load_body(model, field, unload))


# No heartbeat: NDJSON has no comment line, and the ollama clients read line by line and
# parse each as JSON (an empty line is not), so the head waits for the first chunk while
# the client's leaving is still watched. On SIGTERM the drain ends a started stream with an
# ``{"error"}`` line, and one still waiting for its first chunk with a 503 ``{"error"}`` body.
OLLAMA_STREAM = StreamForm(
    keepalive=None, failure=lambda error: ndjson_line({"error": error.message}), media_type=NDJSON_MEDIA_TYPE
)


async def _stream(request: Request, starting: Awaitable[Served[StartedStream]], lines: shapes.ChatLines) -> Response:
    def events(started: Served[StartedStream]) -> AsyncIterator[bytes]:
        return _ndjson(started.value, lines)

    return await stream_with_heartbeat(request, starting, events, OLLAMA_STREAM)


def _frame(objects: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(ndjson_line(obj) for obj in objects)


async def _ndjson(stream: StartedStream, lines: shapes.ChatLines) -> AsyncIterator[bytes]:
    """Lines as chunks arrive. The backend is committed now: a failure ends the stream with
    an ``{"error"}`` line, as Ollama itself does, rather than switching backends."""
    first = lines.framed(stream.first)
    if first:
        yield first
    try:
        async for chunk in stream.rest:
            framed = lines.framed(chunk)
            if framed:
                yield framed
    except Exception as exc:  # noqa: BLE001 - whatever broke, the client gets an error line
        yield ndjson_line({"error": midstream_failure(exc)})
        return
    yield _frame(lines.finish())


@router.post("/embed")
async def embed(request: Request) -> Response:
    started_ns = time.perf_counter_ns()
    data = await _body(request)
    model = parse.model_name(data)
    inputs = parse.embed_inputs(data)
    dimensions = data.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise InvalidRequest("dimensions must be a positive integer")
    ex = executor(request)
    served = await ex.embed(EmbedRequest(model=_served_as(ex, model), inputs=inputs, dimensions=dimensions))
    body: dict[str, Any] = {"model": model, "embeddings": served.value.vectors}
    body["total_duration"] = time.perf_counter_ns() - started_ns
    if served.value.usage.prompt_tokens:
        body["prompt_eval_count"] = served.value.usage.prompt_tokens
    return json_response(body, headers=served_headers(served))


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    """The legacy single-text call: ``prompt`` in, one ``embedding`` out."""
    data = await _body(request)
    model = parse.model_name(data)
    prompt = data.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidRequest("prompt must be a string")
    parse.embed_fields(data)
    if not prompt:
        raise InvalidRequest("prompt is required: the text to embed")
    ex = executor(request)
    served = await ex.embed(EmbedRequest(model=_served_as(ex, model), inputs=[prompt]))
    return json_response({"embedding": served.value.vectors[0]}, headers=served_headers(served))


# --- model management: not the gateway's job ------------------------------------------


def _refuse(verb: str) -> Callable[[], Awaitable[Response]]:
    async def refuse() -> Response:
        return error_response(501, _MANAGE.format(verb=verb))

    refuse.__name__ = f"refuse_{verb}"
    refuse.__doc__ = f"Refused with 501: {verb} models on the integration itself."
    return refuse


@router.post("/pull")
async def pull(request: Request) -> Response:
    """Refused with 501: pull models on the integration itself. ``ollama run`` pulls a model
    ``/api/show`` did not find, so the refusal names that model as not found first."""
    refusal = _MANAGE.format(verb="pull")
    try:
        name = parse.model_name(await _body(request))
    except AtmosphereError:
        return error_response(501, refusal)
    if executor(request).lookup(name) is None:
        refusal = f"model '{name}' not found on any enabled integration. {refusal}"
    return error_response(501, refusal)


for _path, _methods, _verb in (
    ("/push", ["POST"], "push"),
    ("/create", ["POST"], "create"),
    ("/copy", ["POST"], "copy"),
    ("/delete", ["DELETE"], "delete"),
    ("/blobs/{digest}", ["POST", "GET", "HEAD"], "create"),  # HEAD is answered as GET
):
    router.add_api_route(_path, _refuse(_verb), methods=_methods)
