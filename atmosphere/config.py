"""Settings: the only place that reads the environment.

Every setting has an ``ATMOSPHERE_*`` environment variable and a CLI flag of the
same meaning; a flag (passed here as an override) beats the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from atmosphere.hosts import HostListError, HostSpec, parse_hosts, unique


class ConfigError(Exception):
    """A setting has a bad value; the message is one line naming the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATMOSPHERE_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    llamafarm_url: str = "http://localhost:14345"
    ollama_url: str = "http://localhost:11434"
    llamafarm_runtime_url: str = "http://127.0.0.1:11540"
    llamafarm_namespace: str = Field("default", min_length=1)
    # The embedding model asked of LlamaFarm's Universal Runtime (an HF encoder id).
    llamafarm_embed_model: str = Field("sentence-transformers/all-MiniLM-L6-v2", min_length=1)
    probe_timeout: float = Field(2.0, gt=0, le=60)
    request_timeout: float = Field(120.0, gt=0)
    health_interval: float = Field(10.0, gt=0)
    state_dir: Path = Path.home() / ".atmosphere"
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    ca_bundle: Path | None = Field(
        None, description="PEM file of extra CA certificates trusted for https:// backends (beside the system's)"
    )
    log_level: str = "info"
    access_log: bool = False
    # Fleet: per-host concurrency and queueing (0 = what the host reports, else 4).
    max_inflight: int = Field(0, ge=0, le=1024)
    queue_size: int = Field(16, ge=0, le=10_000)
    queue_timeout: float = Field(30.0, gt=0, le=3600)
    models_file: Path | None = None  # model equivalents (TOML); default <state_dir>/models.toml
    log_prompts: bool = False  # the request log keeps prompt and answer text only when true
    # Web origins whose pages may call the API (CORS), comma-separated: exact origins such as
    # ``https://app.example``, patterns such as ``http://localhost:*``, or ``*`` for any page.
    allowed_origins: str = ""

    @field_validator("llamafarm_url", "ollama_url")
    @classmethod
    def _must_be_host_list(cls, value: str, info: Any) -> str:
        """A comma list of ``url`` / ``name=url`` (LlamaFarm: ``url|runtime_url``)."""
        kind = "llamafarm" if info.field_name == "llamafarm_url" else "ollama"
        try:
            specs = parse_hosts(kind, value)
        except HostListError as exc:
            raise ValueError(str(exc)) from None
        if not specs:
            raise ValueError("needs at least one host URL")
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
        runtime = self.llamafarm_runtime_url if "llamafarm_runtime_url" in self.model_fields_set else None
        specs = parse_hosts("llamafarm", self.llamafarm_url, first_runtime=runtime)
        return unique(specs + parse_hosts("ollama", self.ollama_url))

    def models_path(self) -> Path:
        return self.models_file or self.state_dir / "models.toml"

    @field_validator("llamafarm_runtime_url")
    @classmethod
    def _must_be_http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL with a host (got {value!r})")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"has an invalid port (got {value!r})") from None
        return value.strip().rstrip("/")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item and item != "*" and "://" not in item:
                raise ValueError(f"each entry must be an origin such as https://app.example, or * (got {item!r})")
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
