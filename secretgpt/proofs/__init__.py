"""Answer proofs: a signed JSON bundle a person can take away and check offline.

What a proof shows: **this app received these words over a TLS connection bound to a verified
VM.** It holds the conversation turns that were sent, the answer text and reasoning and how the
answer ended (completed, stopped — a committed prefix —, interrupted, error), a hash chain over
the chunks as they were received, model, host, timestamps and generation settings, the
certificate of the connection that streamed the answer (a Continued answer's proof says how many
bytes of its text and reasoning were carried over from the earlier one, not received over it),
and the attestation: the raw evidence (quote, compose, GPU evidence, the Intel collateral we
fetched, the time) with its verification result. This installation signs it with its own Ed25519
key (made on first use in the data dir, mode 0600; its fingerprint is shown in Settings).

What it does not show: **that the VM signed these words.** Nothing on the VM signs answers today
(SCRT Labs' message signing is a design document); the signature is this app's, so the proof is
exactly as trustworthy as the installation that made it. It does not show that the model behaved
well, that the compose's images are benign, nor anything about answers it does not cover. GPU
evidence is judged by NVIDIA's online service, so offline the GPU part can only be checked for
its binding (nonce), not re-verified; AMD SEV-SNP reports are not re-verified offline.

Checking: `secretgpt-proof verify FILE [--key FINGERPRINT] [--keys FILE]` (or `python -m
secretgpt.proofs verify …`) prints who signed it and the text it vouches for, then each check, and
exits 2 (tampered with or malformed, or not signed by the --key named: names the check), 3 (intact,
but signed by a key you did not name: anyone can make a key), 1 (intact, from a key you named, but
the evidence did not verify: says why) or 0 (intact, from a key you named, evidence verified).

Seam for the hub: feed `HashChain.add(kind, text)` every chunk as it arrives, and when the answer
ends call `build_proof(...)` with the installation key (`InstallationKey.load_or_create(data_dir)`),
the connection's certificate, the `AttestationService` status and evidence, and how the prompt
was let go (`AdmissionRecord`: the policy, whether the key was checked before sending, consent).
"""

from .bundle import (
    AdmissionRecord,
    Answer,
    AttestationRecord,
    Connection,
    ConsentRecord,
    ProofBody,
    SignedProof,
    Turn,
    build_proof,
    canonical,
)
from .chain import HashChain
from .keys import InstallationKey, KeyFileError, fingerprint
from .verify import EXIT_TAMPERED, EXIT_UNKNOWN_SIGNER, EXIT_UNVERIFIED, EXIT_VERIFIED, ProofReport, verify_proof

__all__ = [
    "EXIT_TAMPERED",
    "EXIT_UNKNOWN_SIGNER",
    "EXIT_UNVERIFIED",
    "EXIT_VERIFIED",
    "AdmissionRecord",
    "Answer",
    "AttestationRecord",
    "Connection",
    "ConsentRecord",
    "HashChain",
    "InstallationKey",
    "KeyFileError",
    "ProofBody",
    "ProofReport",
    "SignedProof",
    "Turn",
    "build_proof",
    "canonical",
    "fingerprint",
    "verify_proof",
]
