"""Application settings, read from the environment and `.env` (see `.env.example`)."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .attestation import DEFAULT_PCCS_URL, AttestationSettings, CaBundle, PccsUrl
from .private_dir import make_private


class TypingSpeed(str, Enum):
    INSTANT = "instant"
    FAST = "fast"
    NATURAL = "natural"


class ConfigError(RuntimeError):
    """A setting has an invalid value; the message names the environment key."""


def _env(name: str) -> AliasChoices:
    # Accept both the documented env key and the attribute name (for tests and code).
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True, case_sensitive=False
    )

    # --- server -----------------------------------------------------------------------------
    host: str = Field("127.0.0.1", validation_alias=_env("SECRETGPT_HOST"))
    port: int = Field(8080, ge=1, le=65535, validation_alias=_env("SECRETGPT_PORT"))
    api_token: SecretStr | None = Field(None, validation_alias=_env("SECRETGPT_API_TOKEN"))
    data_dir: Path = Field(Path.home() / ".secretgpt", validation_alias=_env("SECRETGPT_DATA_DIR"))
    database_url: str | None = Field(None, validation_alias=_env("SECRETGPT_DATABASE_URL"))
    # Several instances: every stream's events, the directory of streams, Stop/Pause/Resume
    # between instances and the page's per-browser storage go to this Redis. Unset: one process.
    redis_url: str | None = Field(None, validation_alias=_env("SECRETGPT_REDIS_URL"))
    storage_secret: SecretStr | None = Field(None, validation_alias=_env("SECRETGPT_STORAGE_SECRET"))
    # Host names (besides loopback) the app answers to, comma-separated: what a reverse proxy passes on.
    allowed_hosts: str = Field("", validation_alias=_env("SECRETGPT_ALLOWED_HOSTS"))
    # Unset: sign-in is required when the app listens beyond loopback or SECRETGPT_ALLOWED_HOSTS is set.
    require_login: bool | None = Field(None, validation_alias=_env("SECRETGPT_REQUIRE_LOGIN"))
    # For tests only: loopback addresses (comma-separated) "Load image" may fetch from anyway, where
    # the tests' own image servers listen. Empty: images come from public addresses only.
    image_fetch_allow_loopback: str = Field("", validation_alias=_env("SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK"))
    # json: one JSON object per line (time, level, logger, message, stream_id, conversation_id),
    # uvicorn's access and error logs included, for a log pipeline; text: lines for a person.
    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("SECRETGPT_LOG_FORMAT"))

    # --- model server -----------------------------------------------------------------------
    # Read from the environment by ChatSecret and by our OpenAI-compatible client (the runtime copies
    # a key found only in .env there); here we only look at whether it is set (demo mode if not).
    secret_ai_api_key: SecretStr | None = Field(None, validation_alias=_env("SECRET_AI_API_KEY"))
    secret_ai_url: str | None = Field(None, validation_alias=_env("SECRET_AI_URL"))
    secret_ai_model: str | None = Field(None, validation_alias=_env("SECRET_AI_MODEL"))
    # auto: ask each host (GET /v1/models, then Ollama's /api/tags or /api/version) and remember.
    secret_ai_protocol: Literal["auto", "openai", "ollama"] = Field(
        "auto", validation_alias=_env("SECRET_AI_PROTOCOL"))
    demo_tokens_per_second: float = Field(40.0, gt=0, le=100_000, validation_alias=_env("DEMO_TOKENS_PER_SECOND"))

    # --- attestation ------------------------------------------------------------------------
    # require: a prompt (and the key) go to a model host only over a connection whose key is the
    # one in the host's verified attestation; warn: sent anyway, judged after (with a notice).
    attestation_policy: Literal["require", "warn"] = Field("require", validation_alias=_env("ATTESTATION_POLICY"))
    # A CA file (PEM) trusted for model hosts instead of the default store (self-hosted SecretVMs
    # with a private CA, and tests): both model paths, discovery and evidence fetching use it.
    secret_ai_ca_bundle: CaBundle = Field(None, validation_alias=_env("SECRET_AI_CA_BUNDLE"))
    # How long a host's attestation stands before it is attested again (seconds).
    attestation_ttl: float = Field(3600.0, gt=0, validation_alias=_env("ATTESTATION_TTL"))
    # Where Intel's collateral (TCB info, QE identity, CRLs) for TDX quotes comes from.
    secretvm_pccs_url: PccsUrl = Field(DEFAULT_PCCS_URL, validation_alias=_env("SECRETVM_PCCS_URL"))

    # --- streaming --------------------------------------------------------------------------
    streaming_enabled: bool = Field(True, validation_alias=_env("STREAMING_ENABLED"))
    max_concurrent_streams: int = Field(5, ge=1, le=1000, validation_alias=_env("MAX_CONCURRENT_STREAMS"))
    stream_timeout: float = Field(300.0, gt=0, validation_alias=_env("STREAM_TIMEOUT"))
    stream_idle_timeout: float = Field(60.0, gt=0, validation_alias=_env("STREAM_IDLE_TIMEOUT"))
    stream_first_token_timeout: float = Field(120.0, gt=0, validation_alias=_env("STREAM_FIRST_TOKEN_TIMEOUT"))
    streaming_chunk_size: int = Field(1, ge=1, le=10_000, validation_alias=_env("STREAMING_CHUNK_SIZE"))
    streaming_update_hz: float = Field(10.0, ge=1, le=60, validation_alias=_env("STREAMING_UPDATE_HZ"))
    typing_speed: TypingSpeed = Field(TypingSpeed.FAST, validation_alias=_env("TYPING_SPEED"))
    sse_keepalive_interval: float = Field(15.0, gt=0, validation_alias=_env("SSE_KEEPALIVE_INTERVAL"))
    stream_detach_grace: float = Field(30.0, ge=0, validation_alias=_env("STREAM_DETACH_GRACE"))
    stream_retention: float = Field(600.0, ge=0, validation_alias=_env("STREAM_RETENTION"))

    # --- reasoning display ------------------------------------------------------------------
    think_color: str = Field("#00bcd4", pattern=r"^#[0-9a-fA-F]{6}$", validation_alias=_env("THINK_COLOR"))
    think_emoji: str = Field("🧠", min_length=1, max_length=8, validation_alias=_env("THINK_EMOJI"))
    show_reasoning: bool = Field(True, validation_alias=_env("SHOW_REASONING"))

    # --- conversations ----------------------------------------------------------------------
    # New conversations start with this system prompt; temperature, top_p, max tokens and seed
    # start unset (the model's own defaults).
    default_system_prompt: str = Field("", max_length=100_000, validation_alias=_env("DEFAULT_SYSTEM_PROMPT"))

    # --- limits -----------------------------------------------------------------------------
    max_message_chars: int = Field(100_000, ge=1, validation_alias=_env("MAX_MESSAGE_CHARS"))
    max_import_mb: float = Field(50.0, gt=0, le=10_000, validation_alias=_env("MAX_IMPORT_MB"))
    # Attachments: each file at most MAX_UPLOAD_MB; the text of one message's files at most
    # MAX_ATTACHMENT_CHARS (about 15 000 tokens: half of a 32 768-token context, so the
    # conversation and the answer still fit; over it the turn says what was cut).
    max_upload_mb: float = Field(20.0, gt=0, le=1_000, validation_alias=_env("MAX_UPLOAD_MB"))
    max_attachment_chars: int = Field(60_000, ge=1_000, validation_alias=_env("MAX_ATTACHMENT_CHARS"))
    max_attachments: int = Field(10, ge=1, le=100, validation_alias=_env("MAX_ATTACHMENTS"))

    @field_validator("secret_ai_api_key", "api_token", "storage_secret", "secret_ai_url", "secret_ai_model",
                     "database_url", "redis_url", "secret_ai_ca_bundle", "require_login", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url", mode="after")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("a Redis URL starts with redis://, rediss:// or unix:// "
                             "(e.g. redis://localhost:6379/0)")
        return value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("allowed_hosts", mode="after")
    @classmethod
    def _host_names(cls, value: str) -> str:
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        for name in names:
            if not _HOST_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a host name; list names only (no scheme, port or path), "
                                 "e.g. chat.example.com,192.168.1.20")
        return ",".join(names)

    @field_validator("image_fetch_allow_loopback", mode="after")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        # Never more than loopback: a private network listed here would be open to model text.
        addresses = [a.strip().strip("[]") for a in value.split(",") if a.strip()]
        for address in addresses:
            if not is_loopback(address) or address.lower() == "localhost":
                raise ValueError(f"{address!r} is not a loopback address; list loopback addresses only "
                                 "(for tests), e.g. 127.0.0.1")
        return ",".join(addresses)

    @field_validator("secret_ai_url")
    @classmethod
    def _host_not_endpoint(cls, value: str | None) -> str | None:
        # The host's address, whichever API it speaks: a pasted OpenAI base URL ends in /v1.
        if value is None:
            return None
        value = value.strip().rstrip("/")
        return value.removesuffix("/v1").rstrip("/") or value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_word(cls, value: object) -> object:
        return value.strip().lower() or "text" if isinstance(value, str) else value

    @field_validator("secret_ai_protocol", mode="before")
    @classmethod
    def _protocol_words(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or "auto"
        return value

    @property
    def demo_mode(self) -> bool:
        return self.secret_ai_api_key is None

    @property
    def on_loopback(self) -> bool:
        """Whether the app listens only on this machine."""
        return is_loopback(self.host)

    @property
    def login_required(self) -> bool:
        """By default when others can reach the page: the app listens beyond loopback, or names
        are allowed for it (a reverse proxy on this machine passes others' requests in)."""
        if self.require_login is not None:
            return self.require_login
        return not self.on_loopback or bool(self.allowed_hosts)

    @property
    def local_url(self) -> str:
        """The app's address as seen from this machine (a wildcard host is reached on loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host and not host.startswith('[') else host}:{self.port}"

    @property
    def attestation(self) -> AttestationSettings:
        """The attestation service's part of these settings."""
        return AttestationSettings(secret_ai_ca_bundle=self.secret_ai_ca_bundle, attestation_ttl=self.attestation_ttl,
                                   secretvm_pccs_url=self.secretvm_pccs_url, attestation_policy=self.attestation_policy)

    @property
    def image_fetch_loopback(self) -> tuple[str, ...]:
        """SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK as addresses (none by default)."""
        return tuple(a for a in self.image_fetch_allow_loopback.split(",") if a)

    @property
    def max_import_bytes(self) -> int:
        return int(self.max_import_mb * 1_000_000)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    def ensure_data_dir(self) -> Path:
        """The data dir, private to this user (0700, its files 0600)."""
        return make_private(self.data_dir)

    def resolved_api_token(self) -> str:
        """The API token: from the environment, else generated once and kept in the data dir."""
        if self.api_token is not None:
            return self.api_token.get_secret_value()
        return _persistent_secret(self.ensure_data_dir() / "api_token")

    def resolved_storage_secret(self) -> str:
        if self.storage_secret is not None:
            return self.storage_secret.get_secret_value()
        return _persistent_secret(self.ensure_data_dir() / "storage_secret")


# A DNS name or an IP address (IPv6 bare or in brackets), without scheme, port or path.
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[?[0-9a-f:.]+\]?")


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _persistent_secret(path: Path) -> str:
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value


def _env_key(field_name: str) -> str:
    field = Settings.model_fields.get(field_name)
    alias = field.validation_alias if field else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field_name.upper()


def load_settings(**overrides: object) -> Settings:
    """Read settings; an invalid value raises ConfigError naming the key to fix."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = str(err["loc"][0]) if err["loc"] else "?"
            key = _env_key(loc.lower()) if loc.lower() in Settings.model_fields else loc
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(problems)) from None
