"""What attestation needs of the settings, and how those values are checked.

The values are read once, by `Settings` (env keys SECRET_AI_CA_BUNDLE, ATTESTATION_TTL,
SECRETVM_PCCS_URL, ATTESTATION_POLICY), which hands them to the attestation service as
`Settings.attestation`; the service reads no environment of its own.
"""

from __future__ import annotations

from pathlib import Path

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

DEFAULT_PCCS_URL = "https://pccs.scrtlabs.com"  # secretvm-verify's default PCCS


def readable_ca_bundle(value: Path | None) -> Path | None:
    if value is None:
        return None
    value = value.expanduser()
    if not value.is_file():
        raise ValueError(f"{value} is not a file (SECRET_AI_CA_BUNDLE names a PEM file of CA certificates)")
    return value


def pccs_url(value: object) -> object:
    if isinstance(value, str):
        return value.strip().rstrip("/") or DEFAULT_PCCS_URL
    return value


# The checked types, shared by `Settings` (which reads the environment) and `AttestationSettings`.
CaBundle = Annotated[Path | None, AfterValidator(readable_ca_bundle)]
PccsUrl = Annotated[str, BeforeValidator(pccs_url)]


class AttestationSettings(BaseModel):
    # A CA file (PEM) trusted for model hosts instead of the default store: self-hosted SecretVMs
    # with a private CA, and tests. Used by both model paths and by evidence fetching.
    secret_ai_ca_bundle: CaBundle = None
    # How long an attestation stands before the host is attested again (seconds).
    attestation_ttl: float = Field(3600.0, gt=0)
    # Where Intel's collateral (TCB info, QE identity, CRLs) for TDX quotes comes from.
    secretvm_pccs_url: PccsUrl = DEFAULT_PCCS_URL
    # require: nothing goes to a host over a connection whose key is not the verified one; warn:
    # sent, then judged (the behaviour before the check existed).
    attestation_policy: Literal["require", "warn"] = "require"
