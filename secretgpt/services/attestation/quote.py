"""CPU quotes: which TEE made one, what it reports, and Intel DCAP verification of TDX quotes with
collateral we fetch (and keep) ourselves.

We call dcap-qvl directly rather than secretvm-verify's TDX check because that check fetches the
collateral internally and drops it; a proof must carry it, so the quote can be verified again
offline at the time it was captured (`dcap_qvl.verify(quote, collateral, captured_at)`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import struct
from dataclasses import dataclass

from .models import TeeType

TDX_TEE_TYPE = 0x81
SEV_REPORT_DATA = slice(0x50, 0x90)
# TCB statuses under which a platform still counts as trustworthy; the quote's status and Intel's
# advisories are shown either way. OutOfDate / Revoked platforms have known, unfixed weaknesses.
ACCEPTED_TCB = frozenset({"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"})


class CollateralUnavailable(Exception):
    """The PCCS did not provide collateral (unreachable, timed out, or no answer for this platform)."""


@dataclass(frozen=True)
class ParsedQuote:
    tee: TeeType
    raw: bytes
    report_data: bytes  # 64 bytes


@dataclass(frozen=True)
class DcapVerdict:
    tcb_status: str
    advisory_ids: list[str]


def parse_cpu_quote(served: str) -> ParsedQuote:
    """Recognise the text served at /cpu. Raises ValueError when it is neither kind."""
    text = served.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) >= 8 and struct.unpack_from("<HHI", raw, 0)[::2] == (4, TDX_TEE_TYPE):  # version, TEE type
        import dcap_qvl

        report = dcap_qvl.parse_quote(raw).report  # ValueError on a malformed quote
        return ParsedQuote(tee="TDX", raw=raw, report_data=bytes(report.report_data))
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) >= 0x2A0:
        version, sig_algo = struct.unpack_from("<I", raw, 0)[0], struct.unpack_from("<I", raw, 0x34)[0]
        if version in (2, 3, 4, 5) and sig_algo == 1:
            return ParsedQuote(tee="SEV-SNP", raw=raw, report_data=raw[SEV_REPORT_DATA])
    raise ValueError("not an Intel TDX quote (hex) or an AMD SEV-SNP report (base64)")


def td_debug(raw: bytes) -> bool:
    """Whether the TD runs in debug mode (its memory is readable by the host)."""
    import dcap_qvl

    return bool(dcap_qvl.parse_quote(raw).report.td_attributes[0] & 0x01)


async def fetch_collateral(pccs_url: str, raw_quote: bytes, timeout: float) -> str:
    """Intel collateral for this quote's platform from a PCCS, as dcap-qvl's JSON (to store)."""
    import dcap_qvl

    try:
        async with asyncio.timeout(timeout):
            collateral = await dcap_qvl.get_collateral(pccs_url, raw_quote)
    except TimeoutError:
        raise CollateralUnavailable(f"PCCS {pccs_url} did not answer within {timeout:g} s") from None
    except (ValueError, RuntimeError, OSError) as exc:
        raise CollateralUnavailable(f"PCCS {pccs_url}: {exc}") from None
    data = json.loads(collateral.to_json())
    # SCRT Labs' PCCS has served the root CA CRL as hex text rather than DER (secretvm-verify
    # patches it the same way); dcap-qvl then cannot parse it.
    data["root_ca_crl"] = _dehex(data.get("root_ca_crl"))
    return json.dumps(data)


def _dehex(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        inner = bytes.fromhex(bytes.fromhex(value).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return value
    return inner.hex() if inner[:1] == b"\x30" else value


def verify_tdx(raw_quote: bytes, collateral_json: str, now: int, root_ca_der: bytes | None = None) -> DcapVerdict:
    """The quote's signature chain, QE identity, CRLs and TCB level, at time `now`.

    `root_ca_der` None: Intel's SGX root CA, pinned inside dcap-qvl (always, in the app). Tests
    pass their own root to verify quotes made with a test PKI. Raises ValueError when the quote
    does not verify.
    """
    import dcap_qvl

    collateral = dcap_qvl.QuoteCollateralV3.from_json(collateral_json)
    if root_ca_der is None:
        report = dcap_qvl.verify(raw_quote, collateral, now)
    else:
        report = dcap_qvl.verify_with_root_ca(raw_quote, collateral, root_ca_der, now)
    return DcapVerdict(tcb_status=report.status, advisory_ids=list(report.advisory_ids or []))
