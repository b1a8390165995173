"""`secretgpt-proof verify FILE [--key FINGERPRINT] [--keys FILE]` (or `python -m secretgpt.proofs
verify …`): check a proof offline. Who signed it is printed first, with the text it vouches for."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ..services.attestation.verifier import EvidenceVerifier
from .keys import normal_fingerprint, read_keys_file
from .verify import EXIT_TAMPERED, ProofReport, verify_proof

MARKS = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP", "info": "INFO"}
INDENT = " " * 9


def signer_lines(report: ProofReport) -> list[str]:
    """Who signed, first: an intact proof is only as good as its key, and anyone can make one."""
    fp = report.signer
    if report.trust == "trusted":
        return [f"Signer:  {fp} (a key you named)"]
    if report.trust == "unknown":
        return [f"Signer:  {fp} — NOT A KEY YOU NAMED",
                f"{INDENT}Anyone can make a key and sign a proof with it. If this is the fingerprint in the Settings",
                f"{INDENT}of an installation you trust, run again with --key {fp}",
                f"{INDENT}(or add it to a file of trusted fingerprints, one a line, and pass --keys FILE)."]
    if report.trust == "unexpected":
        return [f"Signer:  {fp} — NOT the key you named ({' or '.join(report.expected)})"]
    if report.trust == "invalid":
        return [f"Signer:  unknown: the proof names key {fp}, but its signature does not hold"]
    return []


def answer_lines(report: ProofReport) -> list[str]:
    if report.text_sha256 is None:
        return []
    shown = f'"{report.first_line}"' if report.first_line else "(no text)"
    return [f"Answer:  SHA-256 {report.text_sha256} ({report.text_chars:,} characters)",
            f"{INDENT}first line: {shown}"]


def render(report: ProofReport) -> str:
    lines = [*signer_lines(report), *answer_lines(report)]
    lines += [f"{MARKS[line.outcome]:<5} {line.name:<11} {line.detail}" for line in report.lines]
    lines.append(f"Result: {report.summary} (exit {report.exit_code})")
    return "\n".join(lines)


def _fingerprint(text: str) -> str:
    key = normal_fingerprint(text)
    if key is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fingerprint (64 hex digits, as Settings shows it)")
    return key


def _parser() -> argparse.ArgumentParser:
    # The console script, or `python -m`: the usage line names the command that was typed.
    prog = "secretgpt-proof" if Path(sys.argv[0]).name == "secretgpt-proof" else "python -m secretgpt.proofs"
    parser = argparse.ArgumentParser(prog=prog, description="Check SecretGPT answer proofs.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "verify", help="check a proof file offline",
        epilog="Exit codes: 0 intact, from a key you named, evidence verified; 1 intact, from a key you named, "
               "evidence did not verify; 2 tampered with, malformed, or not signed by the --key named; "
               "3 intact, but signed by a key you did not name.")
    check.add_argument("file", type=Path)
    check.add_argument("--key", type=_fingerprint, action="append", default=[], metavar="FINGERPRINT",
                       help="the proof must be signed with this key (shown in Settings); repeat for any of several")
    check.add_argument("--keys", type=Path, metavar="FILE",
                       help="a file of fingerprints you trust, one a line (# comments); another signer gives exit 3")
    return parser


def main(argv: list[str] | None = None, *, verifier: EvidenceVerifier | None = None) -> int:
    args = _parser().parse_args(argv)
    # Text from the proof may be in any script; a terminal that cannot show it gets escapes, not a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        trusted = read_keys_file(args.keys) if args.keys is not None else []
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_TAMPERED
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_TAMPERED
    report = asyncio.run(verify_proof(data, verifier=verifier, expected_keys=args.key, trusted_keys=trusted))
    print(render(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
