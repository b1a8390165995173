"""SCRT Labs' `secretvm-verify`, imported on first use and guarded.

Lazy: it is only needed once a real host is attested (importing it costs ~0.2 s; it depends on
web3, which it imports lazily itself and which we never touch).

Guarded: on a registry miss (a quote whose measurements are not in its bundled registry),
`verify_workload` calls `refresh_registry_from_github()`, which downloads from GitHub with no
timeout and overwrites the package's own data files. A host chooses what its quote says, so a
hostile host could trigger that on every attestation. We (1) ask `resolve_secretvm_version`
first, which only reads the bundled registry, and do not call `verify_workload` for TDX quotes it
does not know; and (2) replace `secretvm.verify.workload.refresh_registry_from_github`, the name
`verify_tdx_workload`/`verify_sev_workload` look up at call time, with a function that refuses,
once, for the whole process (a swap restored after each call would race with calls running in
other threads). Only the synchronous, pure functions and the `_async` ones are used: the
library's other sync functions call `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_module: ModuleType | None = None


def _refresh_refused() -> bool:
    """Stands in for refresh_registry_from_github: no download, no overwrite; 'no update'."""
    return False


def secretvm_verify() -> ModuleType:
    """`secretvm.verify`, with the registry refresh disabled."""
    global _module
    with _lock:
        if _module is None:
            import secretvm.verify as sv
            from secretvm.verify import workload

            workload.refresh_registry_from_github = _refresh_refused
            _module = sv
        return _module


@dataclass(frozen=True)
class WorkloadVerdict:
    status: str  # authentic_match | authentic_mismatch | not_authentic
    template_name: str | None = None
    artifacts_ver: str | None = None
    env: str | None = None


def resolve_version(tdx_quote_hex: str) -> dict[str, str] | None:
    """SecretVM template and version of a TDX quote, from the bundled registry only."""
    return secretvm_verify().resolve_secretvm_version(tdx_quote_hex)


def verify_workload(quote: str, compose: str, tee: str) -> WorkloadVerdict:
    """The quote's measured workload against the served compose. Synchronous and CPU-bound: run it
    in a thread."""
    sv = secretvm_verify()
    if tee == "TDX" and resolve_version(quote) is None:
        return WorkloadVerdict(status="not_authentic")  # a registry miss: never reach the refresh
    result = sv.verify_workload(quote, compose)
    return WorkloadVerdict(status=result.status, template_name=result.template_name,
                           artifacts_ver=result.artifacts_ver, env=result.env)


async def check_sev(report_b64: str) -> Any:
    """AMD SEV-SNP report verification (VCEK, chain and CRL from AMD's KDS)."""
    return await secretvm_verify().check_sev_cpu_attestation_async(report_b64)


async def check_nvidia(gpu_json: str, timeout: float) -> Any:
    """NVIDIA GPU evidence, checked by NVIDIA's remote attestation service (NRAS). The library
    runs it in a thread with its own timeouts; we stop waiting after `timeout`."""
    async with asyncio.timeout(timeout):
        return await secretvm_verify().check_nvidia_gpu_attestation_async(gpu_json)
