"""Whether this process may serve beyond loopback: checked once, before anything starts.

Bound beyond loopback without a key, anyone who can reach the port could chat, switch
hosts and read the history, so ``serve`` and ``demo`` refuse unless told to insist
(``--insecure-no-auth``), and then say so at every start. The key itself is checked at the
door of every call by ``api/middleware/auth.py``.
"""

from __future__ import annotations

import logging

from atmosphere.config import ConfigError, Settings
from atmosphere.locality import is_loopback

log = logging.getLogger("atmosphere.auth")


def check_exposure(settings: Settings) -> None:
    """Refuse to serve beyond loopback without a key, unless told to insist.

    Called by the command line before anything starts (``serve`` and ``demo``); the warning
    for insisting is ``warn_if_open``'s, once logging is set up.
    """
    if not _open_beyond_loopback(settings) or settings.insecure_no_auth:
        return
    raise ConfigError(
        f"refusing to serve on {settings.host} without an API key: set ATMOSPHERE_API_KEY "
        "(or --api-key, or ATMOSPHERE_API_KEY_FILE), or pass --insecure-no-auth to serve it open anyway"
    )


def warn_if_open(settings: Settings) -> None:
    """The warning at every start of a service that was told to serve the network without a key."""
    if _open_beyond_loopback(settings):
        log.warning("serving on %s WITHOUT an API key (--insecure-no-auth): anyone who can reach it can use it", settings.host)


def _open_beyond_loopback(settings: Settings) -> bool:
    return not is_loopback(settings.host) and settings.api_key is None
