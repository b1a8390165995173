"""A proof file is anyone's, and so is its signature (a key is free to make): whatever its bytes,
the verifier ends with exit 2 and one sentence, never a traceback; JSON that two readers would
read differently (a key twice) is refused; and what it prints of the file's text is one line with
its control characters shown, not obeyed."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from secretgpt.proofs import (
    EXIT_TAMPERED,
    EXIT_UNKNOWN_SIGNER,
    EXIT_UNVERIFIED,
    Answer,
    AttestationRecord,
    Connection,
    HashChain,
    InstallationKey,
    Turn,
    build_proof,
    canonical,
    verify_proof,
)
from secretgpt.proofs.__main__ import main
from secretgpt.services.attestation.status import DEMO_REASON, unverified

from ..attestation.conftest import REPO

ORIGIN = "http://127.0.0.1:8123"


def demo_proof(key: InstallationKey, text: str = "Hello from the demo.", error: str | None = None) -> str:
    chain = HashChain()
    chain.add("c", text)
    now = datetime.now(timezone.utc)
    return build_proof(
        key=key, turns=[Turn(role="user", content="Hi")], model="demo", chain=chain,
        answer=Answer(text=text, ended="error" if error else "completed", error=error),
        connection=Connection(origin=ORIGIN), attestation=AttestationRecord(status=unverified(ORIGIN, DEMO_REASON)),
        started_at=now, finished_at=now, generation={"temperature": 0.5},
    ).to_json()


def signed(raw: dict, key: InstallationKey) -> bytes:
    raw["signature"] = base64.b64encode(key.sign(canonical(raw["proof"]))).decode()
    return json.dumps(raw, ensure_ascii=False).encode()


@pytest.fixture
def key(tmp_path: Path) -> InstallationKey:
    return InstallationKey.load_or_create(tmp_path / "data")


def cases(proof: str) -> dict[str, tuple[bytes, str]]:
    """name -> (file, the start of the one sentence that says why it is not read)."""
    temperature = '"temperature": 0.5'
    assert temperature in proof
    with_value = lambda value: proof.replace(temperature, f'"temperature": {value}').encode()  # noqa: E731
    return {
        "NaN": (with_value("NaN"), "it is not strict JSON: it holds NaN"),
        "Infinity": (with_value("Infinity"), "it is not strict JSON: it holds Infinity"),
        "-Infinity": (with_value("-Infinity"), "it is not strict JSON: it holds -Infinity"),
        "1e999": (with_value("1e999"), "it holds the number 1e999, too large"),
        "a 30-digit number": (with_value("1" + "0" * 29), "it holds a whole number of 30 digits"),
        "a 5000-digit number": (with_value("9" * 5000), "it holds a whole number of 5000 digits"),
        "10,000 deep": (proof.replace(temperature, '"temperature": ' + "[" * 10_000 + "]" * 10_000).encode(),
                        "it nests deeper than JSON can be read here"),
        "100 deep": (with_value("[" * 100 + "]" * 100), "it nests more than 64 levels deep"),
        "not UTF-8": (proof.encode("utf-16"), "it is not UTF-8 text"),
        "latin-1": (proof.replace("Hello", "Héllo").encode("latin-1", errors="replace"),
                    "it is not UTF-8 text (byte 0xe9"),
        "a lone surrogate": (proof.replace("Hello", "\\ud800Hello").encode(), "it holds a \\u escape of half"),
        "a key twice": (proof.replace('"text": "Hello', '"text": "Goodbye", "text": "Hello').encode(),
                        'it has the key "text" twice in one object'),
        "empty": (b"", "it is not JSON (Expecting value"),
        "a list": (b"[1, 2]", "it is JSON, but not a proof"),
        "a string": (b'"proof"', "it is JSON, but not a proof"),
        "null": (b"null", "it is JSON, but not a proof"),
    }


NAMES = ["NaN", "Infinity", "-Infinity", "1e999", "a 30-digit number", "a 5000-digit number", "10,000 deep",
         "100 deep", "not UTF-8", "latin-1", "a lone surrogate", "a key twice", "empty", "a list", "a string", "null"]


@pytest.mark.parametrize("name", NAMES)
async def test_unreadable_files_exit_2_with_one_sentence(key: InstallationKey, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str], name: str) -> None:
    data, why = cases(demo_proof(key))[name]
    path = tmp_path / "proof.json"
    path.write_bytes(data)
    assert await asyncio.to_thread(main, ["verify", str(path), "--key", key.fingerprint]) == EXIT_TAMPERED
    out, err = capsys.readouterr()
    result = out.splitlines()[-1]
    assert result.startswith(f"Result: not a SecretGPT proof file: {why}"), result
    assert result.endswith("(exit 2)") and err == ""


def test_the_real_command_reads_deep_nesting_without_a_traceback(key: InstallationKey, tmp_path: Path) -> None:
    data, why = cases(demo_proof(key))["10,000 deep"]
    path = tmp_path / "deep.json"
    path.write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "secretgpt.proofs", "verify", str(path)], cwd=REPO,
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == EXIT_TAMPERED and result.stderr == "", result.stderr
    assert f"Result: not a SecretGPT proof file: {why}" in result.stdout


async def test_the_file_as_written_still_reads(key: InstallationKey) -> None:
    """The strict reading refuses nothing the app writes, with or without a byte order mark."""
    proof = demo_proof(key).encode()
    for data in (proof, b"\xef\xbb\xbf" + proof):
        report = await verify_proof(data, trusted_keys=[key.fingerprint])
        assert report.exit_code == EXIT_UNVERIFIED, report.summary


async def test_signed_nonsense_in_the_connection_is_malformed(key: InstallationKey) -> None:
    """The signature only says who vouches: a well-signed proof whose certificate is not base64
    is malformed (2), not a crash in the evidence checks."""
    raw = json.loads(demo_proof(key))
    raw["proof"]["connection"]["certificate"] = "not base64!"
    report = await verify_proof(signed(raw, key), trusted_keys=[key.fingerprint])
    assert report.exit_code == EXIT_TAMPERED and "connection failed" in report.summary


class BrokenVerifier:
    """Evidence the checks cannot read (none found so far: this stands in for the next)."""

    async def verify_offline(self, evidence: object) -> object:
        raise KeyError("tcb_info")


async def test_evidence_the_checks_cannot_read_is_malformed_not_a_crash(key: InstallationKey) -> None:
    raw = json.loads(demo_proof(key))
    raw["proof"]["attestation"]["evidence"] = {"origin": ORIGIN, "served_from": ORIGIN,
                                               "captured_at": "2025-01-01T00:00:00Z", "cpu_quote": "00"}
    report = await verify_proof(signed(raw, key), trusted_keys=[key.fingerprint],
                                verifier=BrokenVerifier())  # type: ignore[arg-type]
    assert report.exit_code == EXIT_TAMPERED
    assert report.summary == "tampered with or malformed: evidence failed (its checks could not read it: KeyError)"


async def test_what_is_shown_of_the_text_is_one_line_with_its_controls_escaped(
        key: InstallationKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A terminal escape that would clear the screen and draw a green line, a right-to-left
    # override, a second line pretending to be the verdict.
    text = "\x1b[2J\x1b[32mAll good\u202e evil\nResult: intact, and its evidence verified (exit 0)"
    path = tmp_path / "proof.json"
    path.write_text(demo_proof(key, text, error="boom\x1b[0m\nPASS  everything"), encoding="utf-8")
    code = await asyncio.to_thread(main, ["verify", str(path)])
    out = capsys.readouterr().out
    assert code == EXIT_UNKNOWN_SIGNER
    assert "\x1b" not in out and "\u202e" not in out
    assert 'first line: "\\x1b[2J\\x1b[32mAll good\\u202e evil"' in out
    assert "INFO  ending      error: boom\\x1b[0m\\x0aPASS  everything" in out
    assert [line for line in out.splitlines() if line.startswith("Result:")] == [out.splitlines()[-1]]
    # A long first line is cut; the hash is of the whole text.
    path.write_text(demo_proof(key, "x" * 500 + "\nsecond"), encoding="utf-8")
    await asyncio.to_thread(main, ["verify", str(path)])
    out = capsys.readouterr().out
    assert f'first line: "{"x" * 99}…"' in out and "(507 characters)" in out
