"""Command line: ``atmosphere serve | scan | demo``.

Every flag is a setting: its name, help text and default come from the ``Settings`` field
(``--probe-timeout`` is ``probe_timeout``, also ``ATMOSPHERE_PROBE_TIMEOUT``, which the flag
beats). A configuration error is one line naming the setting (exit 2), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from atmosphere import __version__
from atmosphere.config import ConfigError, Settings, load_settings

_REPEATABLE = {"llamafarm_url", "ollama_url", "allow_host_addresses"}  # lists: the flag may repeat
_ALIASES = {"allow_host_addresses": ["--allow-host-address"]}  # one address per use reads better
# The settings each command takes (serve: every setting but the demo's own).
_DEMO_ONLY = {"standin_ports"}
_SCAN = {
    "llamafarm_url",
    "ollama_url",
    "llamafarm_runtime_url",
    "llamafarm_namespace",
    "probe_timeout",
    "state_dir",
    "ca_bundle",
    "llamafarm_default_model",
    "allow_cloud",
    "allow_host_addresses",
    "max_hosts",
}
_DEMO = {"host", "port", "state_dir", "log_level", "health_interval", "standin_ports", "api_key", "api_key_file", "allowed_hosts"}


def _default_text(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None or value == "" or isinstance(value, bool):
        return ""
    if isinstance(value, Path):
        home = str(Path.home())
        value = "~" + str(value)[len(home) :] if str(value).startswith(home) else value
    return f" (default {value})"


def _add_setting_flags(parser: argparse.ArgumentParser, names: set[str]) -> None:
    for name, field in Settings.model_fields.items():
        if name not in names:
            continue
        flag = "--" + name.replace("_", "-")
        help_text = f"{field.description or name}{_default_text(field)} [ATMOSPHERE_{name.upper()}]"
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action="store_const", const=True, default=None, help=help_text)
            continue
        # Values pass through as text: the settings check them and name the setting when wrong.
        action = "append" if name in _REPEATABLE else "store"
        flags = [flag, *_ALIASES.get(name, [])]
        parser.add_argument(*flags, dest=name, default=None, action=action, help=help_text, metavar=name.upper())


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {name: getattr(args, name, None) for name in Settings.model_fields}
    for name in _REPEATABLE:
        if isinstance(overrides.get(name), list):
            overrides[name] = ",".join(overrides[name])
    return load_settings(**overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atmosphere", description="A local AI gateway for LlamaFarm and Ollama.")
    parser.add_argument("--version", action="version", version=f"atmosphere {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway and dashboard")
    _add_setting_flags(serve, set(Settings.model_fields) - _DEMO_ONLY)
    scan = commands.add_parser("scan", help="probe every integration once and print what was found")
    _add_setting_flags(scan, _SCAN)
    demo = commands.add_parser(
        "demo", help="serve against built-in stand-ins of LlamaFarm and Ollama (neither needs to be installed)"
    )
    _add_setting_flags(demo, _DEMO)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings_from(args)
    except ConfigError as exc:
        print(f"atmosphere: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command in ("serve", "demo"):
            from atmosphere.lifecycle.exposure import check_exposure

            check_exposure(settings)  # beyond loopback only with a key (or told to insist), before anything starts
        if args.command == "serve":
            from atmosphere.server import serve

            return serve(settings)
        if args.command == "scan":
            return asyncio.run(scan(settings))
        if args.command == "demo":
            return demo(settings)
    except ConfigError as exc:  # e.g. beyond loopback without a key: refused before binding
        print(f"atmosphere: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"atmosphere: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 2


def demo(settings: Settings) -> int:
    from atmosphere.demo import standins
    from atmosphere.server import serve

    with standins(settings) as running:
        print(running.banner(settings.host, settings.port), file=sys.stderr, flush=True)
        running.listen()
        return serve(running.settings)


async def scan(settings: Settings) -> int:
    """Print a table of the integrations; exit 1 when none is routable (healthy or degraded)."""
    from atmosphere.app import build_hosts
    from atmosphere.observe.requestlog import RequestLog
    from atmosphere.router.balancer import Balancer
    from atmosphere.router.breaker import Breakers
    from atmosphere.router.integrations import Integrations
    from atmosphere.router.readiness import ROUTABLE

    hosts = build_hosts(settings)
    cards = Integrations(hosts, balancer=Balancer(), breakers=Breakers(), requests=RequestLog())  # nothing served yet
    try:
        await hosts.registry.scan()
        items = cards.all()
    finally:
        await hosts.registry.aclose()
    print(format_scan_table(items))
    return 0 if any(i["status"] in ROUTABLE for i in items) else 1


def format_scan_table(items: Sequence[Mapping[str, Any]]) -> str:
    rows = [("INTEGRATION", "STATUS", "VERSION", "LATENCY", "URL", "MODELS")]
    for item in items:
        status = item["status"] + ("" if item["enabled"] else " (disabled)")
        latency = f"{item['latency_ms']:.0f} ms" if item["latency_ms"] is not None else "-"
        models = ", ".join(m["id"] for m in item["models"]) or (item["error"] or "-")
        rows.append((item["id"], status, item["version"] or "-", latency, item["url"], models))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5] for row in rows)
