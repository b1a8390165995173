"""Settings of attestation and of trust in model hosts' TLS certificates.

Seam: these fields belong in `secretgpt.config.Settings`; they live here until the wiring step
moves them (the env keys stay the same), so this package does not depend on code being moved.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PCCS_URL = "https://pccs.scrtlabs.com"  # secretvm-verify's default PCCS


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class AttestationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True, case_sensitive=False
    )

    # A CA file (PEM) trusted for model hosts instead of the default store: self-hosted SecretVMs
    # with a private CA, and tests. Used by both model paths and by evidence fetching.
    secret_ai_ca_bundle: Path | None = Field(None, validation_alias=_env("SECRET_AI_CA_BUNDLE"))
    # How long an attestation stands before the host is attested again (seconds).
    attestation_ttl: float = Field(3600.0, gt=0, validation_alias=_env("ATTESTATION_TTL"))
    # Where Intel's collateral (TCB info, QE identity, CRLs) for TDX quotes comes from.
    secretvm_pccs_url: str = Field(DEFAULT_PCCS_URL, validation_alias=_env("SECRETVM_PCCS_URL"))

    @field_validator("secret_ai_ca_bundle", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret_ai_ca_bundle", mode="after")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        if not value.is_file():
            raise ValueError(f"{value} is not a file (SECRET_AI_CA_BUNDLE names a PEM file of CA certificates)")
        return value

    @field_validator("secretvm_pccs_url", mode="before")
    @classmethod
    def _default_pccs(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().rstrip("/") or DEFAULT_PCCS_URL
        return value
