"""The host URL policy through the running gateway: a host added from the API, the settings
or hosts.json must be a plain http(s) base, without credentials, and not a cloud metadata
service or any link-local address in any spelling, unless the operator allows it. A loopback
listener plays the metadata service: it must never hear a request it was not meant to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from atmosphere.config import ConfigError, load_settings
from atmosphere.standins.server import EmulatorServer

KEY = "host-policy-test-key"


class Listener:
    """A loopback HTTP server that records every request (the 'metadata service')."""

    def __init__(self, answer: Any = None) -> None:
        self.heard: list[str] = []

        async def record(request: Request) -> Response:
            self.heard.append(f"{request.method} {request.url.path}{'?' + request.url.query if request.url.query else ''}")
            return answer(request) if answer else JSONResponse({"Code": "Success", "AccessKeyId": "ASIA-SECRET"})

        routes = [Route("/{path:path}", record, methods=["GET", "POST", "HEAD"])]
        self.server = EmulatorServer(Starlette(routes=routes)).start()

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def metadata() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.server.stop()


def add(client: httpx.Client, url: str, kind: str = "ollama", **extra: Any) -> httpx.Response:
    return client.post("/v1/integrations", json={"kind": kind, "url": url, **extra})


def listed_urls(client: httpx.Client) -> list[str]:
    return [item["url"] for item in client.get("/v1/integrations").json()["integrations"]]


METADATA_URLS = [
    "http://169.254.169.254",
    "http://169.254.170.2",  # AWS ECS task credentials
    "http://[fd00:ec2::254]",
    "http://[fe80::1]:11434",
    "http://metadata.google.internal",
    "http://METADATA.google.internal.:80",
    "http://metadata.azure.com",
    "http://metadata",
    "http://instance-data",
    "http://100.100.100.200",
    "http://2852039166",  # 169.254.169.254 as one decimal number
    "http://0xa9fea9fe",  # ... in hex
    "http://0251.0376.0251.0376",  # ... in octal
    "http://169.254.43518",  # ... in inet_aton's a.b.c form
    "http://[::ffff:169.254.169.254]",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]",
    "http://[64:ff9b::a9fe:a9fe]",  # NAT64
]


def test_cloud_metadata_addresses_and_names_are_refused_in_every_spelling(make_gateway, tmp_path: Path) -> None:
    gateway = make_gateway()
    with gateway.client() as client:
        before = listed_urls(client)
        for url in METADATA_URLS:
            answer = add(client, url)
            assert answer.status_code == 400, url
            error = answer.json()["error"]
            assert error["param"] == "url" and "ATMOSPHERE_ALLOW_HOST_ADDRESSES" in error["message"], url
        assert listed_urls(client) == before
    assert not (tmp_path / "state" / "hosts.json").exists()


def test_a_url_with_a_path_or_query_is_refused_and_probe_paths_never_follow_one(make_gateway, metadata) -> None:
    gateway = make_gateway()
    with gateway.client() as client:
        for url in (
            f"{metadata.url}/latest/meta-data/iam?x=",
            f"{metadata.url}/latest/meta-data/iam",
            f"{metadata.url}/?x=",
            f"{metadata.url}#frag",
            f"{metadata.url}/v1",
        ):
            answer = add(client, url)
            assert answer.status_code == 400, url
            assert "without a path, query or fragment" in answer.json()["error"]["message"]
        fine = add(client, f"{metadata.url}/", name="plain")  # a trailing slash is a plain base
        assert fine.status_code == 201 and fine.json()["integration"]["url"] == metadata.url
        client.get("/v1/integrations", params={"refresh": "true"})
    assert metadata.heard and all(line.startswith(("GET /api/", "POST /api/")) for line in metadata.heard), metadata.heard


def test_credentials_in_a_host_url_are_refused_and_never_shown_back(make_gateway, metadata, tmp_path: Path) -> None:
    gateway = make_gateway()
    port = metadata.server.port
    with gateway.client() as client:
        answer = add(client, f"http://admin:hunter2-secret@127.0.0.1:{port}")
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["param"] == "url" and "user name or password" in error["message"]
        assert "hunter2" not in answer.text and "***@127.0.0.1" in error["message"]
        assert "hunter2" not in client.get("/v1/integrations").text
    assert metadata.heard == []
    assert not (tmp_path / "state" / "hosts.json").exists()


def test_a_bad_runtime_url_is_refused_naming_that_field(make_gateway, backends) -> None:
    gateway = make_gateway()
    with gateway.client() as client:
        answer = add(client, backends.urls["llamafarm"], kind="llamafarm", runtime_url="http://169.254.169.254:11540")
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "runtime_url"


def test_a_host_is_stored_as_the_base_it_denotes(make_gateway, backends) -> None:
    port = backends.ollama.port
    gateway = make_gateway(health_interval=3600)
    with gateway.client() as client:
        added = add(client, f"HTTP://0x7f000001:{port}/", name="hexed")
        assert added.status_code == 201
        assert added.json()["integration"]["url"] == f"http://127.0.0.1:{port}"
        client.get("/v1/integrations", params={"refresh": "true"})
        card = next(
            i for i in client.get("/v1/integrations", params={"refresh": "true"}).json()["integrations"] if i["id"] == "hexed"
        )
    assert card["status"] == "healthy"


def test_the_integration_view_says_which_network_each_host_is_on(make_gateway, backends) -> None:
    gateway = make_gateway(backends, health_interval=3600)
    with gateway.client() as client:
        assert add(client, "http://10.0.0.5:1", name="lan box").status_code == 201
        assert add(client, "http://203.0.113.7:1", name="far box").status_code == 201
        networks = {i["id"]: i["network"] for i in client.get("/v1/integrations").json()["integrations"]}
    assert networks == {"llamafarm": "loopback", "ollama": "loopback", "lan-box": "private", "far-box": "public"}


def test_a_probe_never_follows_a_redirect_to_another_host(make_gateway, metadata) -> None:
    elsewhere = metadata.url + "/latest/meta-data/iam/security-credentials/"
    redirector = Listener(lambda _request: RedirectResponse(elsewhere, status_code=302))
    try:
        gateway = make_gateway(health_interval=3600)
        with gateway.client() as client:
            assert add(client, redirector.url, name="bouncer").status_code == 201
            farm = add(client, redirector.url, kind="llamafarm", name="farm bouncer", runtime_url=redirector.url)
            assert farm.status_code == 201
            client.get("/v1/integrations", params={"refresh": "true"})
            items = client.get("/v1/integrations", params={"refresh": "true"}).json()["integrations"]
        cards = [i for i in items if i["id"] in ("bouncer", "farm-bouncer")]
        assert len(cards) == 2 and all(card["status"] != "healthy" for card in cards), cards
        assert "ASIA-SECRET" not in json.dumps(cards)
        assert any(line.startswith("GET /api/") for line in redirector.heard), "the Ollama host was probed"
        assert any(line.startswith("GET /v1/") or line.startswith("GET /health") for line in redirector.heard), redirector.heard
        assert metadata.heard == []
    finally:
        redirector.server.stop()


def test_the_operator_may_allow_an_address_the_policy_refuses(make_gateway) -> None:
    gateway = make_gateway(allow_host_addresses="169.254.169.254, metadata.google.internal", probe_timeout=0.2)
    with gateway.client() as client:
        assert add(client, "http://2852039166:11434", name="link local box").json()["integration"]["url"] == (
            "http://169.254.169.254:11434"
        )
        assert add(client, "http://metadata.google.internal:11434", name="named").status_code == 201
        assert add(client, "http://169.254.169.253:11434").status_code == 400  # only what is listed


def test_the_settings_refuse_a_metadata_host_in_one_line_unless_allowed() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(ollama_url="http://127.0.0.1:11434,http://169.254.169.254")
    assert str(error.value).startswith("ATMOSPHERE_OLLAMA_URL:") and "ATMOSPHERE_ALLOW_HOST_ADDRESSES" in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_settings(llamafarm_url="http://u:pw@lf:14345")
    assert "user name or password" in str(error.value) and "pw" not in str(error.value).replace("password", "")
    with pytest.raises(ConfigError) as error:
        load_settings(llamafarm_runtime_url="http://metadata.google.internal")
    assert str(error.value).startswith("ATMOSPHERE_LLAMAFARM_RUNTIME_URL:")
    with pytest.raises(ConfigError) as error:
        load_settings(allow_host_addresses="not a name!")
    assert str(error.value).startswith("ATMOSPHERE_ALLOW_HOST_ADDRESSES:")
    allowed = load_settings(ollama_url="http://169.254.169.254", allow_host_addresses="169.254.0.0/16")
    assert [h.url for h in allowed.hosts()] == ["http://localhost:14345", "http://169.254.169.254"]


def test_the_command_line_takes_allow_host_address_repeated() -> None:
    from atmosphere.cli import _settings_from, build_parser

    args = build_parser().parse_args(
        [
            "serve",
            "--ollama-url",
            "http://[fd00:ec2::254]",
            "--allow-host-address",
            "fd00:ec2::254",
            "--allow-host-address",
            "10.9.9.9",
        ]
    )
    assert [h.url for h in _settings_from(args).hosts() if h.kind == "ollama"] == ["http://[fd00:ec2::254]"]


def test_saved_hosts_the_policy_refuses_are_skipped_at_start(make_gateway, backends, tmp_path: Path, caplog) -> None:
    state = tmp_path / "state"
    state.mkdir()
    saved = [
        {"id": "imds", "kind": "ollama", "name": "imds", "url": "http://169.254.169.254", "removable": True},
        {"id": "creds", "kind": "ollama", "name": "creds", "url": "http://u:p@127.0.0.1:1", "removable": True},
        {"id": "pathy", "kind": "ollama", "name": "pathy", "url": "http://127.0.0.1:1/latest?x=", "removable": True},
        {"id": "good", "kind": "ollama", "name": "good", "url": backends.urls["ollama"], "removable": True},
    ]
    (state / "hosts.json").write_text(json.dumps({"added": saved, "order": []}))
    gateway = make_gateway(backends)
    with gateway.client() as client:
        ids = [i["id"] for i in client.get("/v1/integrations").json()["integrations"]]
    assert ids == ["llamafarm", "ollama", "good"]


# --- the cap on hosts -------------------------------------------------------------------


def test_hosts_past_the_cap_are_refused_naming_the_setting(make_gateway, tmp_path: Path) -> None:
    gateway = make_gateway(max_hosts=4, health_interval=3600)
    with gateway.client() as client:
        assert add(client, "http://10.0.0.1:1").status_code == 201
        assert add(client, "http://10.0.0.2:1").status_code == 201
        refused = add(client, "http://10.0.0.3:1")
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "too_many_hosts" and "ATMOSPHERE_MAX_HOSTS" in error["message"]
        assert len(client.get("/v1/integrations").json()["integrations"]) == 4
        assert client.delete("/v1/integrations/ollama-10-0-0-1-1").status_code == 200
        assert add(client, "http://10.0.0.3:1").status_code == 201  # room again
    saved = json.loads((tmp_path / "state" / "hosts.json").read_text())["added"]
    assert [h["url"] for h in saved] == ["http://10.0.0.2:1", "http://10.0.0.3:1"]


def test_the_settings_may_not_name_more_hosts_than_the_cap() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(ollama_url="http://a:1,http://b:1,http://c:1", max_hosts=3)
    assert str(error.value).startswith("ATMOSPHERE_MAX_HOSTS:")


# --- who may add hosts ------------------------------------------------------------------


def test_with_an_api_key_only_its_holder_adds_or_removes_hosts(make_gateway, metadata) -> None:
    gateway = make_gateway(api_key=KEY, health_interval=3600)
    with gateway.client() as client:
        assert add(client, metadata.url).status_code == 401
        assert client.delete("/v1/integrations/ollama").status_code == 401
        added = client.post("/v1/integrations", json={"kind": "ollama", "url": metadata.url}, headers={"x-api-key": KEY})
        assert added.status_code == 201


# --- a name that resolves to a refused address -------------------------------------------


def test_a_name_that_resolves_to_a_metadata_address_is_refused_when_connecting() -> None:
    from atmosphere.host_policy import AllowList, peer_refusal

    check = peer_refusal()
    assert "resolves to 169.254.169.254" in (check("rebound.example.org", "169.254.169.254") or "")
    assert "ATMOSPHERE_ALLOW_HOST_ADDRESSES" in (check("x.example", "::ffff:169.254.169.254") or "")
    assert check("gpu-box", "10.0.0.5") is None and check("localhost", "127.0.0.1") is None
    allowed = peer_refusal(AllowList.parse("169.254.169.254, imds.corp"))
    assert allowed("rebound.example.org", "169.254.169.254") is None
    assert allowed("imds.corp", "169.254.169.1") is None  # the name itself is listed
    assert allowed("other.example", "169.254.169.1") is not None


async def test_the_transport_sends_nothing_to_an_address_its_check_refuses(metadata) -> None:
    from atmosphere.http.transport import PooledTransport

    refuse_loopback = PooledTransport(peer_check=lambda host, peer: "a test refusal" if peer == "127.0.0.1" else None)
    async with httpx.AsyncClient(transport=refuse_loopback, base_url=metadata.url) as client:
        with pytest.raises(httpx.ConnectError, match="refused to connect to 127.0.0.1:.*a test refusal"):
            await client.get("/latest/meta-data/")
    assert metadata.heard == []


# --- the policy itself, spelling by spelling ---------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("http://LOCALHOST:11434/", "http://localhost:11434"),
        ("https://GPU-Box.lan", "https://gpu-box.lan"),
        ("http://0x7f000001:11434", "http://127.0.0.1:11434"),
        ("http://0177.0.0.1:1", "http://127.0.0.1:1"),
        ("http://10.1:1", "http://10.0.0.1:1"),  # inet_aton's a.b form
        ("http://[::1]:1", "http://[::1]:1"),
        ("http://192.168.1.20:11434", "http://192.168.1.20:11434"),
    ],
)
def test_a_host_url_is_stored_in_one_plain_form(given: str, stored: str) -> None:
    from atmosphere.host_policy import normalize_host_url

    assert normalize_host_url(given) == stored


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("ftp://h", "http:// or https://"),
        ("http://", "http:// or https://"),
        ("http://h:99999", "invalid host or port"),
        ("http://h ost", "spaces or control characters"),
        ("http://h/\r\nX: y", "spaces or control characters"),
        ("http://bad_name!:1", "invalid host name"),
        ("http://0.0.0.0:11434", "is where a server listens"),
        ("http://224.0.0.1", "no host has"),
        ("http://[::]:1", "is where a server listens"),
        ("http://x.metadata.google.internal", "cloud metadata service"),
        ("http://" + "a" * 3000, "at most 2048 characters"),
    ],
)
def test_a_host_url_the_policy_refuses_says_why(given: str, says: str) -> None:
    from atmosphere.host_policy import HostUrlRefused, normalize_host_url

    with pytest.raises(HostUrlRefused, match=says):
        normalize_host_url(given)


@pytest.mark.parametrize(
    ("url", "network"),
    [
        ("http://127.0.0.1:1", "loopback"),
        ("http://localhost:1", "loopback"),
        ("http://[::1]:1", "loopback"),
        ("http://10.0.0.5:1", "private"),
        ("http://172.20.0.1:1", "private"),
        ("http://100.64.1.1:1", "private"),  # carrier-grade NAT, Tailscale
        ("http://[fd12::1]:1", "private"),
        ("http://gpu-box:1", "private"),
        ("http://box.local:1", "private"),
        ("http://[::ffff:192.168.1.2]:1", "private"),
        ("http://8.8.8.8:1", "public"),
        ("https://api.example.com", "public"),
    ],
)
def test_each_host_is_placed_on_a_network(url: str, network: str) -> None:
    from atmosphere.host_policy import network_of

    assert network_of(url) == network
