"""Settings: the only place that reads the environment.

Every setting has an ``ATMOSPHERE_*`` environment variable and a CLI flag of the
same meaning; a flag (passed here as an override) beats the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from atmosphere.host_policy import AllowList
from atmosphere.state.hostlist import HostListError, HostSpec, Kind, check_url, parse_hosts, unique


class ConfigError(Exception):
    """A setting has a bad value; the message is one line naming the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATMOSPHERE_", extra="ignore", frozen=True)

    # Each field's description is its help text in the CLI (``atmosphere serve --help``), and
    # its default is written only here: adding a described field adds the flag.
    host: str = Field("127.0.0.1", description="address to bind (off loopback only with an API key)")
    port: int = Field(8000, ge=1, le=65535, description="port to serve on")
    # Before the host lists: their checks read it. README: "Security".
    allow_host_addresses: str = Field(
        "",
        description="addresses, networks or names an integration's URL may point at although the URL policy refuses "
        "them (link-local, cloud metadata), comma list or repeat the flag",
    )
    max_hosts: int = Field(64, ge=1, le=1024, description="integrations at most, configured and added together")
    llamafarm_url: str = Field(
        "http://localhost:14345",
        description="LlamaFarm server(s): url, name=url or url|runtime_url; comma list or repeat the flag",
    )
    ollama_url: str = Field(
        "http://localhost:11434", description="Ollama server(s): url or name=url; comma list or repeat the flag"
    )
    llamafarm_runtime_url: str | None = Field(
        None,
        description="the Universal Runtime (embeddings) of the first LlamaFarm integration (default: its host, "
        "port 11540; the others: url|runtime_url)",
    )
    llamafarm_namespace: str = Field(
        "default",
        min_length=1,
        pattern=r"^\s*[\w.-]+(\s*,\s*[\w.-]+)*\s*$",
        description="LlamaFarm namespace(s) whose projects are used; a comma list makes ids <namespace>/<project>/<model>",
    )
    llamafarm_default_model: str | None = Field(
        None,
        min_length=1,
        description="the LlamaFarm model 'auto' uses, as /v1/models lists it (default: the first ready model "
        "of the first valid project)",
    )
    allow_cloud: bool = Field(False, description="route and list cloud models (Ollama cloud models, hosted LlamaFarm providers)")
    llamafarm_embed_model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        min_length=1,
        description="embedding model asked of LlamaFarm's Universal Runtime (a Hugging Face encoder id)",
    )
    probe_timeout: float = Field(2.0, gt=0, le=60, description="seconds for one discovery probe")
    request_timeout: float = Field(120.0, gt=0, description="deadline in seconds for a non-streamed upstream call, head and body")
    health_interval: float = Field(10.0, gt=0, description="seconds between background scans")
    state_dir: Path = Field(
        Path.home() / ".atmosphere",
        description="where enable/disable choices, added integrations, their order and (with SQLite) keys and usage "
        "history persist",
    )
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body accepted, in bytes")
    first_token_timeout: float = Field(
        120.0, gt=0, description="seconds a stream may wait for its first content before the next integration is tried"
    )
    stream_idle_timeout: float = Field(
        60.0, gt=0, description="longest gap between content chunks of a started stream before it ends with an error"
    )
    stream_heartbeat: float = Field(
        2.0, gt=0, description="seconds of waiting for a stream's first chunk before the response starts with keep-alives"
    )
    shutdown_grace: float = Field(30.0, ge=0, description="seconds in-flight requests and streams get to finish after SIGTERM")
    max_buffered_bytes: int = Field(
        128 * 1024 * 1024, ge=1024 * 1024, description="bytes of upstream answers held in memory at once, process-wide"
    )
    ca_bundle: Path | None = Field(
        None, description="PEM file of extra CA certificates trusted for https:// integrations (beside the system's)"
    )
    log_level: str = Field("info", description="critical, error, warning, info or debug")
    access_log: bool = Field(False, description="log every request (costs speed)")
    # Per-integration concurrency and queueing.
    max_inflight: int = Field(
        0, ge=0, le=1024, description="requests at once per integration that reports no limit of its own (0: no limit)"
    )
    queue_size: int = Field(512, ge=0, le=10_000, description="requests waiting per integration at its limit before a 503")
    queue_timeout: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="seconds a request may wait for an integration at its limit (default: the request timeout)",
    )
    models_file: Path | None = Field(None, description="model equivalents, TOML (default <state-dir>/models.toml)")
    log_prompts: bool = Field(False, description="keep prompt and answer text in the request log")
    allowed_origins: str = Field(
        "",
        description="web origins whose pages may call the API (CORS), comma-separated: https://app.example, "
        "http://localhost:* or * for any page",
    )
    standin_ports: str = Field(
        "",
        description="demo only: ports for the stand-ins, e.g. ollama=11434,llamafarm=14345,runtime=11540 "
        "(any not named gets a free port)",
    )
    # Exposure beyond loopback (README: "Security").
    api_key: SecretStr | None = Field(
        None,
        description="key every /v1, /api, /ws and /metrics call must send (Authorization: Bearer or x-api-key); "
        "required to bind beyond loopback",
    )
    api_key_file: Path | None = Field(None, description="file holding the API key (instead of --api-key)")
    insecure_no_auth: bool = Field(
        False, description="serve beyond loopback without an API key anyway (anyone on the network may use it)"
    )
    allowed_hosts: str = Field(
        "",
        description="comma list of extra Host names accepted off loopback ('.example.org' for its subdomains, "
        "'*' for any); the bound address, this machine's name, localhost and IP addresses always are",
    )
    # Keys and usage history (README: "Keys and usage").
    database_url: SecretStr | None = Field(
        None,
        description="where client keys and the usage history live: postgresql://user:password@host/db lets several "
        "replicas share them (default: SQLite, atmosphere.db in the state directory)",
    )
    require_keys: bool = Field(
        False, description="on loopback too, every API call needs the admin key or a client key (off loopback it always does)"
    )
    record_usage: bool = Field(
        True, description="write every request to the usage history (off: nothing is recorded; keys and their limits still work)"
    )
    key_lease_seconds: float = Field(
        30.0,
        ge=2,
        le=3600,
        description="PostgreSQL: seconds a request's place in its key's concurrent-requests limit lasts unrenewed "
        "(a replica killed mid-request frees its places within this)",
    )
    usage_retention_days: int = Field(30, ge=1, le=3650, description="days of usage history kept")
    usage_max_rows: int = Field(
        5_000_000, ge=1000, description="usage rows kept at most (the oldest go first), whatever their age"
    )
    usage_queue: int = Field(
        10_000, ge=100, le=1_000_000, description="finished requests waiting to be written; past it they are dropped and counted"
    )
    header_timeout: float = Field(10.0, gt=0, le=300, description="seconds a connection may take to send a request head")
    max_connections: int = Field(
        0, ge=0, description="open client connections at most (0: half the open-file limit less 128, at most 32768)"
    )

    @model_validator(mode="before")
    @classmethod
    def _key_from_file(cls, data: Any) -> Any:
        """Read ``api_key_file`` into ``api_key`` (a key given directly wins)."""
        if not isinstance(data, dict) or not data.get("api_key_file") or data.get("api_key"):
            return data
        path = Path(data["api_key_file"]).expanduser()
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"ATMOSPHERE_API_KEY_FILE: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
        if not key:
            raise ValueError(f"ATMOSPHERE_API_KEY_FILE: {path} is empty")
        return {**data, "api_key": key}

    @field_validator("api_key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        length = len(value.get_secret_value().strip()) if value is not None else None
        if length is not None and length < 8:
            # "(got …)" names the length only: a key, even a bad one, is never printed.
            raise ValueError(
                f"must be at least 8 characters (got {length}); "
                "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe())'"
            )
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    def allowed_host_names(self) -> list[str]:
        return [name.strip().lower() for name in self.allowed_hosts.split(",") if name.strip()]

    @field_validator("llamafarm_url", "ollama_url")
    @classmethod
    def _must_be_host_list(cls, value: str, info: Any) -> str:
        """A comma list of ``url`` / ``name=url`` (LlamaFarm: ``url|runtime_url``)."""
        kind: Kind = "llamafarm" if info.field_name == "llamafarm_url" else "ollama"
        try:
            specs = parse_hosts(kind, value, allow=_allow_list(info.data))
        except HostListError as exc:
            raise ValueError(str(exc)) from None
        if not specs:
            raise ValueError("needs at least one URL")
        return ",".join(item.strip().rstrip("/") for item in value.split(",") if item.strip())

    @model_validator(mode="after")
    def _ids_unique(self) -> Settings:
        try:
            self.hosts()
        except HostListError as exc:
            raise ValueError(f"ATMOSPHERE_OLLAMA_URL / ATMOSPHERE_LLAMAFARM_URL: {exc}") from None
        return self

    def hosts(self) -> list[HostSpec]:
        """Every configured host: LlamaFarm hosts first, then Ollama hosts (the default priority)."""
        runtime = self.llamafarm_runtime_url
        allow = self.host_allow_list()
        specs = parse_hosts("llamafarm", self.llamafarm_url, first_runtime=runtime, allow=allow)
        return unique(specs + parse_hosts("ollama", self.ollama_url, allow=allow))

    def host_allow_list(self) -> AllowList:
        return AllowList.parse(self.allow_host_addresses)

    @field_validator("allow_host_addresses")
    @classmethod
    def _allow_list_parses(cls, value: str) -> str:
        AllowList.parse(value)  # raises ValueError naming the bad entry
        return value

    @model_validator(mode="after")
    def _hosts_within_cap(self) -> Settings:
        count = len(self.hosts())
        if count > self.max_hosts:
            raise ValueError(f"ATMOSPHERE_MAX_HOSTS: the URL lists name {count} integrations, more than {self.max_hosts}")
        return self

    def models_path(self) -> Path:
        return self.models_file or self.state_dir / "models.toml"

    @field_validator("llamafarm_runtime_url")
    @classmethod
    def _must_be_http_url(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        try:
            return check_url(value, _allow_list(info.data))
        except HostListError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item and item != "*" and "://" not in item:
                raise ValueError(f"each entry must be an origin such as https://app.example, or * (got {item!r})")
        return value

    @model_validator(mode="after")
    def _any_origin_needs_a_key(self) -> Settings:
        """``*`` lets every page a user visits run prompts; only with a key does that stay theirs."""
        if "*" in (part.strip() for part in self.allowed_origins.split(",")) and self.api_key is None:
            raise ValueError(
                "ATMOSPHERE_ALLOWED_ORIGINS: '*' lets any web page use the API, so it needs ATMOSPHERE_API_KEY too "
                "(or list the pages' origins)"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        scheme = value.get_secret_value().strip().partition("://")[0].lower()
        if scheme not in ("postgresql", "postgres", "postgresql+asyncpg", "sqlite", "sqlite+aiosqlite"):
            # The URL may hold a password: only its scheme is named.
            raise ValueError(f"must be a postgresql:// or sqlite:// URL (got a {scheme or 'schemeless'} one)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("standin_ports")
    @classmethod
    def _standin_ports(cls, value: str) -> str:
        standin_ports(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _readable_bundle(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"must be a readable PEM file (got {str(value)!r})")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.lower()
        if level not in ("critical", "error", "warning", "info", "debug"):
            raise ValueError(f"must be one of critical, error, warning, info, debug (got {value!r})")
        return level


def _allow_list(validated: dict[str, Any]) -> AllowList:
    """The allow list from the settings validated so far (a bad one has its own error)."""
    try:
        return AllowList.parse(validated.get("allow_host_addresses", ""))
    except ValueError:
        return AllowList()


STANDINS = ("ollama", "llamafarm", "runtime")


def standin_ports(value: str) -> dict[str, int]:
    """``ollama=11434,llamafarm=14345,runtime=11540`` → ports by stand-in (0 for any not named)."""
    ports = dict.fromkeys(STANDINS, 0)
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, _, port = item.partition("=")
        if name.strip() not in ports or not port.strip().isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"each entry must be NAME=PORT with NAME one of {', '.join(STANDINS)} (got {item!r})")
        ports[name.strip()] = int(port)
    return ports


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus explicit overrides (CLI flags).

    Raises ConfigError with a single line such as
    ``ATMOSPHERE_PORT: Input should be less than or equal to 65535 (got 70000)``.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "setting"
        message = first["msg"].removeprefix("Value error, ")
        got = first.get("input")
        suffix = "" if "(got" in message or isinstance(got, dict) else f" (got {got!r})"
        if not first["loc"]:  # a check across settings names its variables itself
            raise ConfigError(message) from None
        raise ConfigError(f"ATMOSPHERE_{field.upper()}: {message}{suffix}") from None
