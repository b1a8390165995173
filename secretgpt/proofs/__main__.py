"""`secretgpt-proof verify FILE [--key FINGERPRINT]` (or `python -m secretgpt.proofs verify …`):
check a proof offline."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ..services.attestation.verifier import EvidenceVerifier
from .verify import EXIT_TAMPERED, ProofReport, verify_proof

MARKS = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP", "info": "INFO"}


def render(report: ProofReport) -> str:
    lines = [f"{MARKS[line.outcome]:<5} {line.name:<11} {line.detail}" for line in report.lines]
    lines.append(f"Result: {report.summary} (exit {report.exit_code})")
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, verifier: EvidenceVerifier | None = None) -> int:
    # The console script, or `python -m`: the usage line names the command that was typed.
    prog = "secretgpt-proof" if Path(sys.argv[0]).name == "secretgpt-proof" else "python -m secretgpt.proofs"
    parser = argparse.ArgumentParser(prog=prog, description="Check SecretGPT answer proofs.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="check a proof file offline")
    check.add_argument("file", type=Path)
    check.add_argument("--key", help="the fingerprint the proof must be signed with (shown in Settings)")
    args = parser.parse_args(argv)
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_TAMPERED
    report = asyncio.run(verify_proof(data, verifier=verifier, expected_key=args.key))
    print(render(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
