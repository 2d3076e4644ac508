"""Running the service: logging set-up and the uvicorn runner (``atmosphere serve`` and ``demo``)."""

from __future__ import annotations

import gc
import logging

from atmosphere.config import Settings


def configure_logging(level: str) -> None:
    from atmosphere.api.request_id import install_log_tag

    install_log_tag()  # request_tag: " [req_…]" on lines logged while serving a request
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s%(request_tag)s: %(message)s")
    # httpx logs every upstream request at INFO: noise, and a cost on the hot path.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def serve(settings: Settings) -> int:
    """Serve the gateway and dashboard until interrupted."""
    import uvicorn

    from atmosphere.api.auth import warn_if_open
    from atmosphere.app import create_app
    from atmosphere.connections import uvicorn_limits

    configure_logging(settings.log_level)
    warn_if_open(settings)
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
        # Header timeout and a connection cap below the (raised) file-descriptor limit.
        **uvicorn_limits(max_connections=settings.max_connections, header_timeout=settings.header_timeout),
    )
    return 0
