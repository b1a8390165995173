"""Trust in model hosts' TLS certificates, and the digests that bind a certificate to a quote.

One SSL context for everything that talks to a model host (both model paths and evidence
fetching): the default trust store (certifi, as httpx uses by default), or `SECRET_AI_CA_BUNDLE`
instead of it. Verification is never switched off.
"""

from __future__ import annotations

import hashlib
import ssl
from functools import lru_cache
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def tls_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """The verifying SSL context for model hosts (pass it as httpx's `verify=`)."""
    if ca_bundle is None:
        return _context(certifi.where(), 0.0)
    path = Path(ca_bundle).expanduser().resolve()
    # Keyed by modification time too: a replaced CA file is read again.
    return _context(str(path), path.stat().st_mtime)


@lru_cache(maxsize=8)
def _context(cafile: str, _mtime: float) -> ssl.SSLContext:
    # Building a context parses the whole store (~20 ms): made once and shared by all clients.
    return ssl.create_default_context(cafile=cafile)


def spki_sha256(certificate_der: bytes) -> bytes:
    """SHA-256 of the certificate's SubjectPublicKeyInfo: what current SecretVM images put in
    `report_data[0:32]` (it survives certificate renewals with the same key)."""
    cert = x509.load_der_x509_certificate(certificate_der)
    return hashlib.sha256(cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()


def certificate_sha256(certificate_der: bytes) -> bytes:
    """SHA-256 of the whole certificate: the binding of older SecretVM images."""
    return hashlib.sha256(certificate_der).digest()
