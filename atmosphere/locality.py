"""Where a host is, seen from the gateway: ``local`` (this machine), ``lan`` (a private
network) or ``cloud`` (anything else). Pure: it reads a URL or host name, never resolves
or contacts it, so a cloud host is known without sending it anything."""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

Locality = Literal["local", "lan", "cloud"]
_ORDER: dict[str, int] = {"local": 0, "lan": 1, "cloud": 2}
_LAN_SUFFIXES = (".local", ".lan", ".home.arpa", ".internal")


def host_of(url_or_host: str) -> str:
    """The host name of a URL (or the text itself when it is a bare host), lower-cased."""
    text = url_or_host.strip()
    if "//" not in text:
        text = "//" + text
    try:
        return (urlsplit(text).hostname or "").lower()
    except ValueError:
        return ""


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether a host name or address (``[::1]`` too) is this machine's loopback."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def locality_of(url_or_host: str) -> Locality:
    host = host_of(url_or_host)
    if host in ("localhost", "") or host.endswith(".localhost"):
        return "local" if host else "cloud"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # A name: only names that cannot be public count as the LAN; a one-label name
        # (``gpu-box``) is resolved by the local network's DNS.
        return "lan" if host.endswith(_LAN_SUFFIXES) or "." not in host else "cloud"
    if address.is_loopback:
        return "local"
    if address.is_private or address.is_link_local:
        return "lan"
    return "cloud"


def farthest(*localities: Locality) -> Locality:
    """The least local of several hops (a request goes as far as its farthest hop)."""
    return max(localities, key=_ORDER.__getitem__)


def seen_from(host_locality: Locality, url_or_host: str) -> Locality:
    """The locality of a host named by another host: ``localhost`` in a LlamaFarm config
    means the LlamaFarm machine, so it is as far as that machine is."""
    own = locality_of(url_or_host)
    return host_locality if own == "local" else farthest(host_locality, own)
