"""Running the service: logging set-up and the uvicorn runner (``atmosphere serve`` and ``demo``)."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
from types import FrameType
from typing import Any

from atmosphere.config import Settings
from atmosphere.lifecycle.drain import Drain


def uvicorn_server() -> type:
    """uvicorn's Server class, imported only when serving (the CLI's other verbs skip it)."""
    import uvicorn

    return uvicorn.Server


def configure_logging(level: str) -> None:
    from atmosphere.observe.context import install_log_tag

    install_log_tag()  # request_tag: " [req_…]" on lines logged while serving a request
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s%(request_tag)s: %(message)s")
    # httpx logs every upstream request at INFO: noise, and a cost on the hot path.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def serve(settings: Settings) -> int:
    """Serve the gateway and dashboard until interrupted."""
    import uvicorn

    from atmosphere.app import create_app
    from atmosphere.connections import uvicorn_limits
    from atmosphere.lifecycle.exposure import warn_if_open

    configure_logging(settings.log_level)
    warn_if_open(settings)
    app = create_app(settings)
    # Everything imported so far lives as long as the process: move it out of the
    # collector's sight, so full collections under load stop walking it (they were
    # most of the p99 at 32 concurrent requests: bench/NOTES.md).
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        ws_ping_interval=20,
        # SIGTERM: listeners close at once; in-flight work gets the grace (streams end well, lifecycle/drain.py).
        timeout_graceful_shutdown=max(1, math.ceil(settings.shutdown_grace)),
        # Header timeout and a connection cap below the (raised) file-descriptor limit.
        **uvicorn_limits(max_connections=settings.max_connections, header_timeout=settings.header_timeout),
    )
    _DrainingServer(config, app.state.drain, settings.shutdown_grace).run()
    return 0


class _DrainingServer(uvicorn_server()):  # type: ignore[misc]
    """uvicorn's server, which also tells the app's ``Drain`` when SIGTERM (or ^C) arrives."""

    def __init__(self, config: Any, drain: Drain, grace: float) -> None:
        super().__init__(config)
        self._drain = drain
        self._grace = grace
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit and self._loop is not None:
            self._loop.call_soon_threadsafe(self._drain.begin, self._grace)
        super().handle_exit(sig, frame)
