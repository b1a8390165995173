"""A test Intel SGX PKI, and TDX quotes (v4) made with it that real dcap-qvl verifies.

Why: "bound → verified" needs a quote whose report_data[0:32] is the SHA-256 of the loopback
server's key, which no recorded quote can have. So this builds the whole chain Intel's
verification walks, with our own keys: a root CA → a PCK Platform CA → a PCK leaf carrying the
Intel SGX extension (FMSPC, TCB components, PCE ID); a TCB signing certificate under the root
that signs the TDX TCB info and the TD QE identity; CRLs for the root and the PCK CA; a QE report,
signed by the PCK key, whose report_data binds the attestation key; and the quote's body signed
by that attestation key. `dcap_qvl.verify_with_root_ca(quote, collateral, root_der, now)` then
runs every check it runs for a real quote; the trust anchor is the only difference (and the same
quote fails against Intel's root).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import struct
from dataclasses import dataclass
from importlib import resources

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from . import der

SGX_EXTENSION = "1.2.840.113741.1.13.1"
INTEL_QE_VENDOR_ID = bytes.fromhex("939A7233F79C4CA9940A0DB3957F0607")
FMSPC = bytes.fromhex("00806F050000")
PCE_SVN, CPU_SVN = 13, [3] * 16
QE_MRSIGNER, QE_PROD_ID, QE_SVN = b"\x44" * 32, 2, 4
SEPT_VE_DISABLE = bytes([0, 0, 0, 0x10, 0, 0, 0, 0])  # the TD attribute dcap-qvl requires


@dataclass(frozen=True)
class Measurements:
    mr_td: bytes
    rtmr0: bytes
    rtmr1: bytes
    rtmr2: bytes
    rtmr3: bytes
    template: str = ""
    version: str = ""


def registry_measurements(compose: str, template: str = "small", *, other_mrtd_than: bytes | None = None) -> Measurements:
    """Measurements of a SecretVM image from secretvm-verify's bundled registry, with RTMR3 replayed
    over `compose` (SHA-256 of the compose, then the image's rootfs data, SHA-384-extended);
    `other_mrtd_than`: of an image whose MRTD is not that one (another genuine image)."""
    path = resources.files("secretvm.verify") / "data" / "tdx.csv"
    with path.open(encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh) if r["template_name"] == template and r["vm_type"] == "prod"
                   and (other_mrtd_than is None or bytes.fromhex(r["mrtd"]) != other_mrtd_than))
    rtmr3 = bytes(48)
    for entry in (hashlib.sha256(compose.encode()).digest(), bytes.fromhex(row["rootfs_data"])):
        rtmr3 = hashlib.sha384(rtmr3 + entry.ljust(48, b"\0")).digest()
    return Measurements(*(bytes.fromhex(row[k]) for k in ("mrtd", "rtmr0", "rtmr1", "rtmr2")), rtmr3=rtmr3,
                        template=row["template_name"], version=row["artifacts_ver"])


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SecretGPT test PKI")])


def _raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sgx_extension() -> x509.UnrecognizedExtension:
    components = [der.sequence(der.oid(f"{SGX_EXTENSION}.2.{i + 1}"), der.integer(svn)) for i, svn in enumerate(CPU_SVN)]
    components += [der.sequence(der.oid(f"{SGX_EXTENSION}.2.17"), der.integer(PCE_SVN)),
                   der.sequence(der.oid(f"{SGX_EXTENSION}.2.18"), der.octets(bytes(CPU_SVN)))]
    value = der.sequence(
        der.sequence(der.oid(f"{SGX_EXTENSION}.1"), der.octets(b"\x11" * 16)),  # PPID
        der.sequence(der.oid(f"{SGX_EXTENSION}.2"), der.sequence(*components)),  # TCB
        der.sequence(der.oid(f"{SGX_EXTENSION}.3"), der.octets(b"\0\0")),  # PCE ID
        der.sequence(der.oid(f"{SGX_EXTENSION}.4"), der.octets(FMSPC)),
        der.sequence(der.oid(f"{SGX_EXTENSION}.5"), der.enumerated(0)),  # SGX type: standard
    )
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(SGX_EXTENSION), value)


class TestSgxPki:
    __test__ = False

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
        new_key = lambda: ec.generate_private_key(ec.SECP256R1())  # noqa: E731
        self.root_key, self.pck_ca_key, self.pck_key, self.tcb_key = new_key(), new_key(), new_key(), new_key()
        root, pck_ca = "SecretGPT Test SGX Root CA", "SecretGPT Test SGX PCK Platform CA"
        self.root = self._certificate(root, root, self.root_key, self.root_key, ca=True)
        self.pck_ca = self._certificate(pck_ca, root, self.pck_ca_key, self.root_key, ca=True)
        self.pck = self._certificate("SecretGPT Test SGX PCK Certificate", pck_ca, self.pck_key, self.pck_ca_key,
                                     ca=False, extra=_sgx_extension())
        self.tcb_signer = self._certificate("SecretGPT Test SGX TCB Signing", root, self.tcb_key, self.root_key, ca=False)
        self.root_crl = self._crl(root, self.root_key)
        self.pck_crl = self._crl(pck_ca, self.pck_ca_key)

    @property
    def root_der(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.DER)

    def _certificate(self, subject: str, issuer: str, key: ec.EllipticCurvePrivateKey,
                     issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
                     extra: x509.ExtensionType | None = None) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(days=30)).not_valid_after(self.now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if extra is not None:
            builder = builder.add_extension(extra, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def _crl(self, issuer: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateRevocationList:
        # dcap-qvl's CRL parser wants the CRL number and authority key identifier (RFC 5280).
        return (x509.CertificateRevocationListBuilder().issuer_name(_name(issuer))
                .last_update(self.now - dt.timedelta(days=1)).next_update(self.now + dt.timedelta(days=30))
                .add_extension(x509.CRLNumber(1), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))

    def tcb_info(self) -> str:
        day = dt.timedelta(days=1)
        levels = [{"tcb": {"sgxtcbcomponents": [{"svn": 2}] * 16, "pcesvn": PCE_SVN,
                           "tdxtcbcomponents": [{"svn": 0}] * 16},
                   "tcbDate": _iso(self.now - 2 * day), "tcbStatus": "UpToDate"}]
        module = {"mrsigner": "00" * 48, "attributes": "00" * 8, "attributesMask": "FF" * 8}
        identity = module | {"id": "TDX_01", "tcbLevels": [
            {"tcb": {"isvsvn": 1}, "tcbDate": _iso(self.now - 2 * day), "tcbStatus": "UpToDate"}]}
        info = {"id": "TDX", "version": 3, "issueDate": _iso(self.now - day), "nextUpdate": _iso(self.now + 30 * day),
                "fmspc": FMSPC.hex().upper(), "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 17,
                "tdxModule": module, "tdxModuleIdentities": [identity], "tcbLevels": levels}
        return json.dumps(info, separators=(",", ":"))

    def qe_identity(self) -> str:
        day = dt.timedelta(days=1)
        identity = {"id": "TD_QE", "version": 2, "issueDate": _iso(self.now - day),
                    "nextUpdate": _iso(self.now + 30 * day), "tcbEvaluationDataNumber": 17,
                    "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
                    "attributes": "11000000000000000000000000000000",
                    "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000", "mrsigner": QE_MRSIGNER.hex().upper(),
                    "isvprodid": QE_PROD_ID,
                    "tcbLevels": [{"tcb": {"isvsvn": QE_SVN}, "tcbDate": _iso(self.now - 2 * day),
                                   "tcbStatus": "UpToDate"}]}
        return json.dumps(identity, separators=(",", ":"))

    def collateral(self) -> dict[str, str]:
        """As dcap-qvl's QuoteCollateralV3 JSON (what a PCCS's answers become)."""
        tcb_info, qe_identity = self.tcb_info(), self.qe_identity()
        signer_chain = _pem(self.tcb_signer) + _pem(self.root)
        return {
            "pck_crl_issuer_chain": _pem(self.pck_ca) + _pem(self.root),
            "root_ca_crl": self.root_crl.public_bytes(serialization.Encoding.DER).hex(),
            "pck_crl": self.pck_crl.public_bytes(serialization.Encoding.DER).hex(),
            "tcb_info_issuer_chain": signer_chain, "tcb_info": tcb_info,
            "tcb_info_signature": _raw_signature(self.tcb_key, tcb_info.encode()).hex(),
            "qe_identity_issuer_chain": signer_chain, "qe_identity": qe_identity,
            "qe_identity_signature": _raw_signature(self.tcb_key, qe_identity.encode()).hex(),
        }

    def quote(self, report_data: bytes, measurements: Measurements) -> bytes:
        """A TDX quote v4 (ECDSA P-256 attestation key, certification data type 6 → 5)."""
        header = struct.pack("<HHIHH", 4, 2, 0x81, QE_SVN, PCE_SVN) + INTEL_QE_VENDOR_ID + bytes(20)
        m = measurements
        body = (bytes([3, 1]) + bytes(14) + b"\x01" * 48 + bytes(48) + bytes(8) + SEPT_VE_DISABLE
                + bytes.fromhex("e702060000000000") + m.mr_td + bytes(48 * 3)
                + m.rtmr0 + m.rtmr1 + m.rtmr2 + m.rtmr3 + report_data.ljust(64, b"\0"))
        attestation_key = ec.generate_private_key(ec.SECP256R1())
        numbers = attestation_key.public_key().public_numbers()
        attestation_public = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
        auth_data = bytes(32)
        qe_report = (bytes(CPU_SVN) + struct.pack("<I", 0) + bytes(28)
                     + bytes.fromhex("11000000000000000700000000000000") + b"\x55" * 32 + bytes(32) + QE_MRSIGNER
                     + bytes(96) + struct.pack("<HH", QE_PROD_ID, QE_SVN) + bytes(60)
                     + hashlib.sha256(attestation_public + auth_data).digest() + bytes(32))
        chain = (_pem(self.pck) + _pem(self.pck_ca) + _pem(self.root)).encode()
        qe_certification = (qe_report + _raw_signature(self.pck_key, qe_report) + struct.pack("<H", len(auth_data))
                            + auth_data + struct.pack("<HI", 5, len(chain)) + chain)
        signature_data = (_raw_signature(attestation_key, header + body) + attestation_public
                          + struct.pack("<HI", 6, len(qe_certification)) + qe_certification)
        return header + body + struct.pack("<I", len(signature_data)) + signature_data
