"""This installation's Ed25519 signing key: made on first use in the data dir (mode 0600), shown
in Settings by its fingerprint, embedded (public half) in every proof."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "proof_signing_key.pem"
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class KeyFileError(RuntimeError):
    """The key file exists but cannot be used; it is left as it is (replacing it would silently
    change this installation's identity)."""


def fingerprint(public_key_raw: bytes) -> str:
    """SHA-256 of the raw 32-byte public key, hex: what Settings shows and a verifier compares."""
    return hashlib.sha256(public_key_raw).hexdigest()


def normal_fingerprint(text: str) -> str | None:
    """A fingerprint as a person may paste it (any case, spaced or colon-separated), as proofs
    name it: 64 lowercase hex digits; None when `text` is not one."""
    compact = "".join(text.split()).replace(":", "").lower()
    return compact if _FINGERPRINT.fullmatch(compact) else None


class InstallationKey:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key

    @classmethod
    def load_or_create(cls, data_dir: Path) -> InstallationKey:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = data_dir / KEY_FILE
        try:
            return cls._create(path)
        except FileExistsError:
            return cls._load(path)

    @classmethod
    def _create(cls, path: Path) -> InstallationKey:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        # O_EXCL: two processes starting at once do not both write; the loser loads the winner's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return cls(key)

    @classmethod
    def _load(cls, path: Path) -> InstallationKey:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{path} is not a regular file")
        if stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(0o600)  # made readable to others by hand or an old umask: take that back
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path} is not a readable private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} is not an Ed25519 key")
        return cls(key)

    @property
    def public_key_raw(self) -> bytes:
        return self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_key_raw).decode()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key_raw)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


def verify_signature(public_key_b64: str, signature_b64: str, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def read_keys_file(path: Path) -> list[str]:
    """The fingerprints a person trusts, one a line (`#` starts a comment, blank lines are skipped).
    Raises ValueError with one sentence naming the file, and the line when one is not a fingerprint."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the keys file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the keys file {path} is not UTF-8 text") from None
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        key = normal_fingerprint(entry)
        if key is None:
            raise ValueError(f"line {number} of the keys file {path} is not a fingerprint (64 hex digits, as "
                             "Settings shows it)")
        keys.append(key)
    return keys
