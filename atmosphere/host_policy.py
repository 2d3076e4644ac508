"""Which backend URLs Atmosphere will contact: the one check every host passes, wherever it
comes from (``--ollama-url`` / ``--llamafarm-url`` and their variables, ``hosts.json``,
``POST /v1/integrations`` and so the dashboard).

A host URL is a plain base: ``http`` or ``https``, a host, an optional port, and nothing
else. Atmosphere joins its own paths (``/api/tags``, ``/v1/models``...) to it, so a path,
query or fragment in the base would only change what those probes ask for; a user name or
password would be stored and shown with the host. Both are refused, not cleaned up, so the
operator sees what was wrong.

The threat is server-side request forgery: whoever may add a host can make the gateway send
requests to any address it can reach, and answer with what came back (versions, model
lists, error text). Private ranges are allowed (a LAN of GPU boxes is the point), but the
addresses and names of cloud metadata services, which hand out the machine's credentials,
are refused, as is all of link-local (169.254.0.0/16, fe80::/10) where they live, in every
spelling an address can take (``2852039166``, ``0xa9fea9fe``, ``::ffff:169.254.169.254``).
An operator who really runs a backend there lists it in ``--allow-host-address``.

Pure: nothing is resolved or contacted here. A name is judged by what it says; one that
resolves to a refused address is caught when the transport connects (``peer_refusal``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

Network = Literal["loopback", "private", "public"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "ATMOSPHERE_ALLOW_HOST_ADDRESSES"
MAX_URL_CHARS = 2048

# Where cloud metadata services answer. Link-local covers AWS, GCP, Azure, OCI, DigitalOcean,
# OpenStack, Hetzner and Tencent (169.254.169.254, 169.254.170.2, 169.254.0.23 ...).
_REFUSED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("169.254.0.0/16"), "a link-local address, where cloud metadata services answer"),
    (ipaddress.ip_network("fe80::/10"), "a link-local address, where cloud metadata services answer"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "the AWS instance metadata service"),
    (ipaddress.ip_network("100.100.100.200/32"), "the Alibaba Cloud metadata service"),
    (ipaddress.ip_network("192.0.0.192/32"), "the Oracle Cloud metadata service"),
)
# Names of metadata services (each also refused with any subdomain, and with a trailing dot).
_REFUSED_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
        "metadata.packet.net",
    }
)
_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$")
# What a LAN uses: RFC 1918, carrier-grade NAT (RFC 6598), unique local IPv6, link-local.
_PRIVATE_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class HostUrlRefused(ValueError):
    """A host URL the policy refuses; the message says why, never quoting a password."""


@dataclass(frozen=True, slots=True)
class AllowList:
    """The operator's exceptions (``--allow-host-address``): addresses, networks, names."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, entries: str | Iterable[str]) -> AllowList:
        """``169.254.169.254, fd00:ec2::254, 169.254.0.0/16, metadata.google.internal``.

        Raises ValueError naming the entry that is none of an address, a network or a name."""
        items = entries.split(",") if isinstance(entries, str) else list(entries)
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for raw in (item.strip() for item in items):
            if not raw:
                continue
            text = raw.strip("[]").lower()
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            address = _numeric_ipv4(text)
            if address is not None:
                networks.append(ipaddress.ip_network(address))
            elif _NAME.match(text.rstrip(".")):
                names.add(text.rstrip("."))
            else:
                raise ValueError(f"each entry must be an IP address, a network (a.b.c.d/n) or a host name (got {raw!r})")
        return cls(tuple(networks), frozenset(names))

    def allows(self, host: str, address: IPAddress | None) -> bool:
        if address is not None:
            return any(address.version == net.version and address in net for net in self.networks)
        return host in self.names


NO_EXCEPTIONS = AllowList()
MAX_HOSTS = 64
MAX_HOSTS_SETTING = "ATMOSPHERE_MAX_HOSTS"


class TooManyHosts(ValueError):
    """Adding a host would pass ``ATMOSPHERE_MAX_HOSTS``."""


@dataclass(frozen=True, slots=True)
class HostRules:
    """What the fleet checks of every host it takes: the URL policy's exceptions and the cap
    (each host is probed every scan and has its card, gauges and log stats: they add up)."""

    allow: AllowList = NO_EXCEPTIONS
    max_hosts: int = MAX_HOSTS

    def check_room(self, count: int) -> None:
        """Raise ``TooManyHosts`` when ``count`` hosts leave no room for one more."""
        if count >= self.max_hosts:
            raise TooManyHosts(
                f"There are {count} integrations already, the most {MAX_HOSTS_SETTING} allows ({self.max_hosts}); "
                "remove one first, or raise the setting."
            )


def normalize_host_url(text: str, allow: AllowList = NO_EXCEPTIONS) -> str:
    """``text`` as the base URL Atmosphere stores and contacts (``scheme://host[:port]``,
    lower-case, an IPv4 address in dotted form), or ``HostUrlRefused`` saying why not."""
    value = text.strip()
    shown = _redacted(value)
    if not value:
        raise HostUrlRefused("must be an http:// or https:// URL with a host (got '')")
    if len(value) > MAX_URL_CHARS:
        raise HostUrlRefused(f"must be at most {MAX_URL_CHARS} characters (got {len(value)})")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        raise HostUrlRefused(f"must not contain spaces or control characters (got {shown!r})")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise HostUrlRefused(f"has an invalid host or port (got {shown!r})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise HostUrlRefused(f"must be an http:// or https:// URL with a host (got {shown!r})")
    if "@" in parts.netloc:
        raise HostUrlRefused(
            f"must not carry a user name or password (got {shown!r}); Atmosphere would store and show it with the host"
        )
    if parts.path not in ("", "/") or "?" in value or "#" in value:
        raise HostUrlRefused(
            f"must be a plain base such as http://host:11434, without a path, query or fragment (got {shown!r}); "
            "Atmosphere adds each API path itself"
        )
    host = (parts.hostname or "").rstrip(".")
    address = _address(host)
    if address is None and not _NAME.match(host):
        raise HostUrlRefused(f"has an invalid host name (got {shown!r})")
    if address is not None and address.is_unspecified:
        raise HostUrlRefused(f"names no host: {address} is where a server listens (got {shown!r}); use 127.0.0.1 or its address")
    reason = refusal(host, address)
    if reason is not None and not allow.allows(host, address):
        raise HostUrlRefused(
            f"points at {reason} (got {shown!r}); if an integration really runs there, list it in {ALLOW_SETTING}"
        )
    return _base(scheme, host if address is None else str(address), port)


def refusal(host: str, address: IPAddress | None) -> str | None:
    """Why a host is refused by default, or None."""
    if address is None:
        name = host.lower().rstrip(".")
        if any(name == refused or name.endswith("." + refused) for refused in _REFUSED_NAMES):
            return f"a cloud metadata service ({name})"
        return None
    for candidate in _embedded(address):
        for network, what in _REFUSED_NETWORKS:
            if candidate.version == network.version and candidate in network:
                return what
        if candidate.is_unspecified or candidate.is_multicast or (candidate.version == 4 and candidate.is_reserved):
            return "an address no host has (unspecified, multicast or reserved)"
    return None


def peer_refusal(allow: AllowList = NO_EXCEPTIONS) -> Callable[[str, str], str | None]:
    """The check the transport makes of each new connection: ``(host as written, address
    connected to)`` → why that address is refused, or None. A name is judged above by what
    it says; this catches one that resolves (or is re-pointed) to a metadata address."""

    def check(host: str, peer: str) -> str | None:
        name = host.lower().rstrip(".")
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return None
        reason = refusal(name, address)
        if reason is None or allow.allows(name, _address(name)) or allow.allows(name, address):
            return None
        return f"{name} resolves to {address}, {reason}; if an integration really runs there, list it in {ALLOW_SETTING}"

    return check


def network_of(url: str) -> Network:
    """Which network a host URL is on, as the dashboard shows it. Names are public unless they
    say otherwise (``localhost``; one label or ``.local``/``.lan``/``.internal``/``.home.arpa``:
    private, resolved by the local network)."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    address = _address(host)
    if address is None:
        if host == "localhost" or host.endswith(".localhost"):
            return "loopback"
        return "private" if "." not in host or host.endswith((".local", ".lan", ".internal", ".home.arpa")) else "public"
    address = next(iter(_embedded(address)))  # an IPv4-mapped address is its IPv4 one
    if address.is_loopback:
        return "loopback"
    if any(address.version == net.version and address in net for net in _PRIVATE_NETWORKS):
        return "private"
    return "public"


def redacted_url(text: str) -> str:
    """A URL as it may be shown or logged: ``http://***@host`` for one with credentials."""
    return _redacted(text)


# --- helpers ---------------------------------------------------------------------------


def _address(host: str) -> IPAddress | None:
    """The address a host literal denotes, in any spelling a resolver accepts for it."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is still link-local
    except ValueError:
        return _numeric_ipv4(host)


def _numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """inet_aton's forms, which getaddrinfo accepts: ``2852039166``, ``0xa9fea9fe``,
    ``0251.0376.0251.0376``, ``169.254.43518``. None when ``host`` is not one."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    numbers = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                numbers.append(int(part[2:], 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            elif part.isdigit():
                numbers.append(int(part))
            else:
                return None
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for position, number in enumerate(head):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4)."""
    found: list[IPAddress] = []
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        elif address.sixtofour is not None:
            found.append(address.sixtofour)
        elif address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 0xFFFF):
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [*found, address]


def _base(scheme: str, host: str, port: int | None) -> str:
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}" + (f":{port}" if port is not None else "")


def _redacted(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:authority_end]
    if "@" not in authority:
        return text
    return f"{scheme}://***@{authority.rsplit('@', 1)[1]}{rest[authority_end:]}"
