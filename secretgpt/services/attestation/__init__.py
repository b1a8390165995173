"""Attestation of model hosts: is the connection that streamed this answer bound to a genuine
confidential VM (SecretVM: Intel TDX or AMD SEV-SNP, with NVIDIA GPUs) running the expected
workload?

How: fetch the host's evidence from the inference origin (`/cpu`, `/gpu`, `/docker-compose`,
else port 29343), verify the CPU quote (Intel DCAP via dcap-qvl with collateral we fetch and keep;
SEV-SNP via secretvm-verify), the workload against the served compose (secretvm-verify's
registry, guarded against its GitHub refresh), the GPU evidence (NVIDIA's service) and its nonce
binding (`report_data[32:64]`), and compare `report_data[0:32]` with the key of the very TLS
connection an answer arrived on. The status is one of four words (`verified`, `unbound`,
`unverified`, `failed`) with a reason and the list of checks.

This package depends on nothing above the service layer (no hub, page or API). Seams for the
wiring step:
- model paths: `capture.client_options(origin, ca_bundle, gate)` for their httpx clients (verified
  TLS with `SECRET_AI_CA_BUNDLE`, each connection's key checked at its handshake by a
  `pinning.KeyGate`, no redirects, and the certificate hook) and `capture.record_peer_certificates()`
  around the call that streams an answer;
- hub: `service.AttestationService.observe(...)` on an answer's first chunk (non-blocking) and
  `answer_status(...)` when it ends; `host(origin).evidence` for its proof;
- API and page: `hosts()`, `is_checking()`, `attest(origin, force=True)`; `AttestationStatus`
  and `HostAttestation` are the pydantic shapes to return;
- settings: `config.AttestationSettings` (`SECRET_AI_CA_BUNDLE`, `ATTESTATION_TTL`,
  `SECRETVM_PCCS_URL`), read by `secretgpt.config.Settings` and handed here as `Settings.attestation`.
"""

from .capture import (
    CertificateLog,
    ConnectionCertificate,
    capture_peer_certificate,
    captured_certificate,
    client_options,
    record_peer_certificates,
)
from ...config.attestation import AttestationSettings
from .fetch import fetch_evidence, origin_of
from .models import AttestationStatus, Check, Evidence, EvidenceVerdict, HostAttestation, StatusWord
from .service import AttestationService
from .status import DEMO_REASON, PLAIN_HTTP_REASON, key_binding_check, resolve, status_for_connection
from .tls import certificate_sha256, spki_sha256, tls_context
from .verifier import EvidenceVerifier

__all__ = [
    "DEMO_REASON",
    "PLAIN_HTTP_REASON",
    "AttestationService",
    "AttestationSettings",
    "AttestationStatus",
    "CertificateLog",
    "Check",
    "ConnectionCertificate",
    "Evidence",
    "EvidenceVerdict",
    "EvidenceVerifier",
    "HostAttestation",
    "StatusWord",
    "capture_peer_certificate",
    "captured_certificate",
    "certificate_sha256",
    "client_options",
    "fetch_evidence",
    "key_binding_check",
    "origin_of",
    "record_peer_certificates",
    "resolve",
    "spki_sha256",
    "status_for_connection",
    "tls_context",
]
