"""Command line: ``atmosphere serve | scan | demo``.

A configuration error is one line naming the setting (exit 2), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from typing import Any

from atmosphere import __version__
from atmosphere.config import ConfigError, Settings, load_settings

# flag → setting; every flag also has an ATMOSPHERE_* environment variable, which it beats.
_SETTING_FLAGS: list[tuple[str, str, Any, str]] = [
    ("--host", "host", str, "address to bind (default 127.0.0.1)"),
    ("--port", "port", int, "port to serve on (default 8000)"),
    ("--llamafarm-url", "llamafarm_url", str, "LlamaFarm server(s): url, name=url or url|runtime_url; comma list or repeat"),
    ("--ollama-url", "ollama_url", str, "Ollama server(s): url or name=url; comma list or repeat (default localhost:11434)"),
    ("--llamafarm-runtime-url", "llamafarm_runtime_url", str, "LlamaFarm Universal Runtime (default http://127.0.0.1:11540)"),
    ("--llamafarm-namespace", "llamafarm_namespace", str, "LlamaFarm namespace whose projects are used (default 'default')"),
    ("--llamafarm-embed-model", "llamafarm_embed_model", str, "embedding model asked of LlamaFarm's Universal Runtime"),
    ("--probe-timeout", "probe_timeout", float, "seconds for one discovery probe (default 2)"),
    ("--request-timeout", "request_timeout", float, "seconds for an upstream call (default 120)"),
    ("--health-interval", "health_interval", float, "seconds between background scans (default 10)"),
    ("--state-dir", "state_dir", str, "where enable/disable choices persist (default ~/.atmosphere)"),
    ("--max-request-bytes", "max_request_bytes", int, "largest request body accepted (default 4 MiB)"),
    ("--log-level", "log_level", str, "critical, error, warning, info or debug (default info)"),
    ("--max-inflight", "max_inflight", int, "requests at once per host (default: what the host reports, else 4)"),
    ("--queue-size", "queue_size", int, "requests waiting per host before 503 (default 16)"),
    ("--queue-timeout", "queue_timeout", float, "seconds a request may wait for a free host (default 30)"),
    ("--models-file", "models_file", str, "model equivalents, TOML (default <state-dir>/models.toml)"),
    ("--allowed-origins", "allowed_origins", str, "web origins whose pages may use the API, comma-separated (default none)"),
]
_REPEATABLE = {"llamafarm_url", "ollama_url"}  # several hosts: the flag may repeat


def _add_setting_flags(parser: argparse.ArgumentParser, only: set[str] | None = None) -> None:
    for flag, dest, kind, help_text in _SETTING_FLAGS:
        if only is None or dest in only:
            action = "append" if dest in _REPEATABLE else "store"
            parser.add_argument(flag, dest=dest, type=_lenient(kind), default=None, action=action, help=help_text)


def _lenient(kind: Any) -> Any:
    """Pass flag text through untouched so the settings report bad values, naming them."""
    return str if kind in (int, float) else kind


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides = {dest: getattr(args, dest, None) for _, dest, _, _ in _SETTING_FLAGS}
    for dest in _REPEATABLE:
        if isinstance(overrides.get(dest), list):
            overrides[dest] = ",".join(overrides[dest])
    if getattr(args, "access_log", False):
        overrides["access_log"] = True
    return load_settings(**overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atmosphere", description="A local AI gateway for LlamaFarm and Ollama.")
    parser.add_argument("--version", action="version", version=f"atmosphere {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway and dashboard")
    _add_setting_flags(serve)
    serve.add_argument("--access-log", action="store_true", help="log every request (costs speed)")

    scan = commands.add_parser("scan", help="probe the backends once and print what was found")
    _add_setting_flags(
        scan, {"llamafarm_url", "ollama_url", "llamafarm_runtime_url", "llamafarm_namespace", "probe_timeout", "state_dir"}
    )

    demo = commands.add_parser("demo", help="serve against built-in stand-in backends (no Ollama or LlamaFarm needed)")
    _add_setting_flags(demo, {"host", "port", "state_dir", "log_level", "health_interval"})
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings_from(args)
    except ConfigError as exc:
        print(f"atmosphere: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "serve":
            return serve(settings)
        if args.command == "scan":
            return asyncio.run(scan(settings))
        if args.command == "demo":
            from atmosphere.demo import run_demo

            return run_demo(settings)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"atmosphere: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 2


def configure_logging(level: str) -> None:
    from atmosphere.api.request_id import install_log_tag

    install_log_tag()  # request_tag: " [req_…]" on lines logged while serving a request
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s%(request_tag)s: %(message)s")
    # httpx logs every upstream request at INFO: noise, and a cost on the hot path.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def serve(settings: Settings) -> int:
    import uvicorn

    from atmosphere.app import create_app

    configure_logging(settings.log_level)
    app = create_app(settings)
    # Everything imported so far lives as long as the process: move it out of the
    # collector's sight, so full collections under load stop walking it (they were
    # most of the p99 at 32 concurrent requests: bench/NOTES.md).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        ws_ping_interval=20,
        timeout_graceful_shutdown=3,
    )
    return 0


async def scan(settings: Settings) -> int:
    """Print a table of integrations; exit 1 when none is healthy."""
    from atmosphere.app import build_backends
    from atmosphere.registry import Registry

    registry = Registry(
        build_backends(settings),
        state_dir=settings.state_dir,
        probe_timeout=settings.probe_timeout,
        health_interval=settings.health_interval,
    )
    try:
        items = await registry.scan()
    finally:
        await registry.aclose()
    print(format_scan_table(items))
    return 0 if any(i["status"] == "healthy" for i in items) else 1


def format_scan_table(items: list[dict[str, Any]]) -> str:
    rows = [("INTEGRATION", "STATUS", "VERSION", "LATENCY", "URL", "MODELS")]
    for item in items:
        status = item["status"] + ("" if item["enabled"] else " (disabled)")
        latency = f"{item['latency_ms']:.0f} ms" if item["latency_ms"] is not None else "-"
        models = ", ".join(m["id"] for m in item["models"]) or (item["error"] or "-")
        rows.append((item["id"], status, item["version"] or "-", latency, item["url"], models))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5] for row in rows)
