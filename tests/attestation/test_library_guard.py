"""secretvm-verify downloads its registry from GitHub on a miss and overwrites its package data;
our calls never do."""

from __future__ import annotations

import hashlib
import urllib.request
from importlib import resources

import pytest

from secretgpt.services.attestation import library

from .sgx_pki import Measurements, TestSgxPki

UNKNOWN_IMAGE = Measurements(mr_td=b"\x03" * 48, rtmr0=b"\x07" * 48, rtmr1=b"\x08" * 48, rtmr2=b"\x09" * 48,
                             rtmr3=b"\x0a" * 48)


def package_data() -> dict[str, str]:
    folder = resources.files("secretvm.verify") / "data"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """GitHub, as the library reaches it (urllib): record, and answer nothing."""
    calls: list[str] = []

    def urlopen(url: object, *args: object, **kwargs: object) -> object:
        calls.append(str(url))
        raise OSError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


def test_a_registry_miss_never_reaches_github(github: list[str], sgx_pki: TestSgxPki) -> None:
    before = package_data()
    quote = sgx_pki.quote(bytes(64), UNKNOWN_IMAGE).hex()

    assert library.verify_workload(quote, "services: {}\n", "TDX").status == "not_authentic"
    # and the library's own entry point, for any caller in this process, once it is loaded by us
    assert library.secretvm_verify().verify_workload(quote, "services: {}\n").status == "not_authentic"

    assert github == []
    assert package_data() == before


def test_without_the_guard_the_library_would_download(github: list[str], sgx_pki: TestSgxPki,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Shows the test above can fail: the library's own refresh is what reaches GitHub."""
    from secretvm.verify import workload

    library.secretvm_verify()
    original = workload.__dict__["refresh_registry_from_github"]
    assert original is library._refresh_refused
    unguarded = library.secretvm_verify().refresh_registry_from_github  # the package's original export
    monkeypatch.setattr(workload, "refresh_registry_from_github", unguarded)
    workload.verify_tdx_workload(sgx_pki.quote(bytes(64), UNKNOWN_IMAGE).hex(), "services: {}\n")
    assert github and github[0].startswith("https://raw.githubusercontent.com/scrtlabs/")
