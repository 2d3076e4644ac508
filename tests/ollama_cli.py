"""The ``ollama`` CLI's commands as its Go source runs them, for a gateway the CLI cannot be run
against here (no Go toolchain on the machine).

Each command sends what ``cmd/cmd.go`` sends (0.5.4, and the current source where it differs),
decodes the answer as Go's ``encoding/json`` does into the structs of ``api/types.go`` (a
string where an ``int64`` is declared, or a time that is not RFC 3339, fails the whole answer)
and then dereferences it as the command does: ``Digest[:12]``, ``ModelInfo[k].(float64)``,
``time.Since(ExpiresAt)``. Where Go would panic this raises ``Panic``; where the command
returns an error it returns what the CLI prints (``Error: ...``). Read, not copied: the
shapes and the steps, none of the printing code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson


class Panic(AssertionError):
    """What would crash the CLI (a nil type assertion, a slice out of range)."""


class DecodeError(AssertionError):
    """What Go's json.Unmarshal refuses: the command fails with this before printing anything."""


@dataclass
class CliError(Exception):
    """An error the command returns; the CLI prints ``Error: <text>`` and exits 1. ``status``
    is the StatusError's code (None for an error line inside a 200 stream)."""

    text: str
    status: int | None = None

    def __str__(self) -> str:
        return f"Error: {self.text}"


# --- Go's encoding/json into api/types.go ----------------------------------------------

# time.Time.UnmarshalJSON: RFC 3339 with optional fractional seconds and a zone.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

DETAILS = {
    "parent_model": str,
    "format": str,
    "family": str,
    "families": [str],
    "parameter_size": str,
    "quantization_level": str,
    "context_length": int,
    "embedding_length": int,
}
LIST_MODEL = {"name": str, "model": str, "modified_at": datetime, "size": int, "digest": str, "details": DETAILS}
PROCESS_MODEL = {
    "name": str,
    "model": str,
    "size": int,
    "digest": str,
    "details": DETAILS,
    "expires_at": datetime,
    "size_vram": int,
    "context_length": int,
}
TOOL_CALL = {"id": str, "function": {"index": int, "name": str, "arguments": dict}}
MESSAGE = {"role": str, "content": str, "thinking": str, "tool_calls": [TOOL_CALL]}
SHOW = {
    "license": str,
    "modelfile": str,
    "parameters": str,
    "template": str,
    "system": str,
    "details": DETAILS,
    "messages": [MESSAGE],
    "model_info": dict,
    "projector_info": dict,
    "capabilities": [str],
    "modified_at": datetime,
}
METRICS = {
    "total_duration": int,
    "load_duration": int,
    "prompt_eval_count": int,
    "prompt_eval_duration": int,
    "eval_count": int,
    "eval_duration": int,
}
CHAT = {"model": str, "created_at": datetime, "message": MESSAGE, "done": bool, "done_reason": str, **METRICS}
GENERATE = {"model": str, "created_at": datetime, "response": str, "thinking": str, "done": bool, "done_reason": str}
GENERATE |= {"context": [int], "tool_calls": [TOOL_CALL], **METRICS}

_ZERO: dict[Any, Any] = {str: "", int: 0, float: 0.0, bool: False, datetime: ZERO_TIME, dict: None}


def go_decode(value: Any, shape: Any, where: str = "$") -> Any:
    """``value`` (parsed JSON) as Go would hold it in ``shape``: a type, a list of one shape
    (a slice), or a dict of field shapes (a struct; unknown fields ignored). JSON null is the
    zero value, as Go leaves it; a mismatched type is a ``DecodeError``."""
    if isinstance(shape, dict):
        if value is None:
            return {k: go_decode(None, s, f"{where}.{k}") for k, s in shape.items()}
        if not isinstance(value, dict):
            raise DecodeError(f"json: cannot unmarshal {type(value).__name__} into the struct at {where}")
        return {k: go_decode(value.get(k), s, f"{where}.{k}") for k, s in shape.items()}
    if isinstance(shape, list):
        if value is None:
            return None
        if not isinstance(value, list):
            raise DecodeError(f"json: cannot unmarshal {type(value).__name__} into the slice at {where}")
        return [go_decode(item, shape[0], f"{where}[{i}]") for i, item in enumerate(value)]
    if value is None:
        return _ZERO[shape]
    if shape is datetime:
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise DecodeError(f"parsing time {value!r} as RFC 3339 at {where}")
        return datetime.fromisoformat(value)
    if shape is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(f"json: cannot unmarshal {value!r} into the Go int at {where}")
        return value
    if shape is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DecodeError(f"json: cannot unmarshal {value!r} into the Go float64 at {where}")
        return float(value)
    if shape is dict:
        if not isinstance(value, dict):
            raise DecodeError(f"json: cannot unmarshal {type(value).__name__} into map[string]any at {where}")
        return {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in value.items()}
    if not isinstance(value, shape) or (shape is not bool and isinstance(value, bool)):
        raise DecodeError(f"json: cannot unmarshal {value!r} into the Go {shape.__name__} at {where}")
    return value


# --- the client (api/client.go) --------------------------------------------------------


def _status_error(response: httpx.Response, message: str, *, streaming: bool) -> CliError:
    # do() leaves Status empty, so the text is the body's error; stream() sets it ("404 Not Found").
    status = f"{response.status_code} {response.reason_phrase}"
    text = f"{status}: {message}" if streaming and message else message or status
    return CliError(text, response.status_code)


def call(http: httpx.Client, method: str, path: str, body: Any, shape: Any) -> Any:
    """``Client.do``: one JSON answer; a status ≥ 400 is a StatusError with the body's ``error``."""
    response = http.request(method, path, json=body)
    if response.status_code >= 400:
        try:
            message = orjson.loads(response.content).get("error") or ""
        except (orjson.JSONDecodeError, AttributeError):
            message = response.text
        raise _status_error(response, message, streaming=False)
    return go_decode(orjson.loads(response.content) if response.content else None, shape)


def stream(http: httpx.Client, path: str, body: Any, shape: Any) -> list[Any]:
    """``Client.stream``: every line must be JSON; one with ``error`` ends the call with it."""
    lines = []
    with http.stream("POST", path, json=body, headers={"Accept": "application/x-ndjson"}) as response:
        for raw in response.iter_lines():  # bufio.Scanner: an empty line is a line too
            try:
                parsed = orjson.loads(raw)
                error = parsed.get("error") if isinstance(parsed, dict) else None
            except orjson.JSONDecodeError:
                if response.status_code >= 400:
                    raise _status_error(response, raw, streaming=True) from None
                raise CliError(raw) from None
            if not isinstance(parsed, dict):
                raise CliError(raw)
            if response.status_code >= 400:
                raise _status_error(response, error or "", streaming=True)
            if error:
                raise CliError(error)
            lines.append(go_decode(parsed, shape))
    return lines


# --- the commands (cmd/cmd.go) ---------------------------------------------------------


def list_models(http: httpx.Client) -> list[list[str]]:
    """``ollama list``: NAME, ID (the digest's first 12 characters), SIZE, MODIFIED."""
    models = call(http, "GET", "/api/tags", None, {"models": [LIST_MODEL]})["models"] or []
    return [[m["name"], _id(m["digest"]), str(m["size"]), _human_time(m["modified_at"], "Never")] for m in models]


def ps(http: httpx.Client) -> list[list[str]]:
    """``ollama ps``: NAME, ID, SIZE, PROCESSOR, CONTEXT, UNTIL (from ``expires_at``)."""
    models = call(http, "GET", "/api/ps", None, {"models": [PROCESS_MODEL]})["models"] or []
    rows = []
    for m in models:
        expires = m["expires_at"]
        until = "Stopping..." if datetime.now(UTC) > expires else _human_time(expires, "Never")
        processor = "100% CPU" if m["size_vram"] == 0 else "GPU"
        rows.append([m["name"], _id(m["digest"]), str(m["size"]), processor, str(m["context_length"]), until])
    return rows


def show(http: httpx.Client, name: str) -> dict[str, str]:
    """``ollama show NAME``: the Model table, read as 0.5.4's ``showInfo`` reads it (its
    type assertions panic on a missing or mistyped key; the current source skips those rows)."""
    answer = call(http, "POST", "/api/show", _show_body(name), SHOW)
    info, details, rows = answer["model_info"], answer["details"], {}
    if info is not None:
        arch = _assert(info.get("general.architecture"), str, "general.architecture")
        rows["architecture"] = arch
        rows["parameters"] = str(int(_assert(info.get("general.parameter_count"), float, "general.parameter_count")))
        for key in ("context_length", "embedding_length"):
            rows[key.replace("_", " ")] = f"{_assert(info.get(f'{arch}.{key}'), float, f'{arch}.{key}'):g}"
    else:
        rows["architecture"], rows["parameters"] = details["family"], details["parameter_size"]
    rows["quantization"] = details["quantization_level"]
    projector = answer["projector_info"]
    if projector is not None:  # 0.5.4: every key below is asserted too
        arch = _assert(projector.get("general.architecture"), str, "projector general.architecture")
        _assert(projector.get("general.parameter_count"), float, "projector general.parameter_count")
        for key in ("vision.embedding_length", "vision.projection_dim"):
            _assert(projector.get(f"{arch}.{key}"), float, f"projector {arch}.{key}")
    return rows


def stop(http: httpx.Client, name: str) -> str:
    """``ollama stop NAME``: a generate with no prompt and ``keep_alive`` 0 (Go's Duration(0)
    marshals as ``"0s"``). An error containing "not found" is reworded; others are printed."""
    try:
        stream(http, "/api/generate", _generate_body(name, keep_alive="0s"), GENERATE)
    except CliError as error:
        if "not found" in error.text:
            return f'Error: couldn\'t find model "{name}" to stop'
        return str(error)
    return ""


def run(http: httpx.Client, name: str, prompt: str | None = None) -> str:
    """``ollama run NAME [PROMPT]``: ``/api/show`` first (a 404 means pull, then show again);
    with a prompt one streamed ``/api/generate``; without one (interactive) a load call, then
    each line typed is a streamed ``/api/chat``; here one line, ``hello``. An embedding model
    (current source: its capabilities say so) embeds the prompt instead. What it prints."""
    try:
        try:
            info = call(http, "POST", "/api/show", _show_body(name), SHOW)
        except CliError as error:
            if error.status != 404:  # a StatusError of 404: the model is not there, so pull it
                raise
            stream(http, "/api/pull", {"model": "", "username": "", "password": "", "name": name}, {"status": str})
            info = call(http, "POST", "/api/show", _show_body(name), SHOW)
        if "embedding" in (info["capabilities"] or []) and prompt is not None:
            vectors = call(http, "POST", "/api/embed", {"model": name, "input": prompt}, {"embeddings": [[float]]})
            if not vectors["embeddings"]:
                raise CliError("no embeddings returned")
            return orjson.dumps(vectors["embeddings"][0]).decode()
        if prompt is not None:
            lines = stream(http, "/api/generate", _generate_body(name, prompt=prompt, context=[]), GENERATE)
            return "".join(line["response"] for line in lines)
        stream(http, "/api/generate", _generate_body(name), GENERATE)  # loadOrUnloadModel
        chat = {"model": name, "messages": [{"role": "user", "content": "hello"}], "options": {}}
        return "".join(line["message"]["content"] for line in stream(http, "/api/chat", chat, CHAT))
    except CliError as error:
        return str(error)


def _show_body(name: str) -> dict[str, Any]:
    """``api.ShowRequest{Name: name}`` as Go marshals it (0.5.4: ``model`` empty, ``name`` set)."""
    return {"model": "", "system": "", "template": "", "verbose": False, "options": None, "name": name}


def _generate_body(name: str, prompt: str = "", **fields: Any) -> dict[str, Any]:
    body = {"model": name, "prompt": prompt, "suffix": "", "system": "", "template": "", "options": None}
    return body | fields


def _assert(value: Any, kind: type, key: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Panic(f"interface conversion: interface {{}} is {type(value).__name__}, not {kind.__name__} ({key})")
    return value


def _id(digest: str) -> str:
    if len(digest) < 12:
        raise Panic(f"runtime error: slice bounds out of range [:12] with length {len(digest)}")
    return digest[:12]


def _human_time(moment: datetime, zero: str) -> str:
    if moment == ZERO_TIME:
        return zero
    seconds = (moment - datetime.now(UTC)).total_seconds()
    if seconds < -20 * 365 * 86400 or seconds > 20 * 365 * 86400:
        return "Forever"
    return "from now" if seconds > 0 else "ago"
