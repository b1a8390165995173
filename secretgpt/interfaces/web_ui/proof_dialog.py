"""Proofs on the page: "Download proof" of an answer, "Verify a proof" (upload a file, see each
check and the verdict), and this installation's key in Settings."""

from __future__ import annotations

from nicegui import events, ui

from ...hub import NoProof
from ...hub import ChatHub
from ...hub import EXIT_UNKNOWN_SIGNER, ProofReport
from ...records import ConversationNotFound, MessageNotFound
from .notices import notify

MAX_PROOF_BYTES = 20_000_000  # a proof with GPU evidence and collateral is ~100 KB
MARKS = {"pass": ("check_circle", "text-positive"), "fail": ("cancel", "text-negative"),
         "skipped": ("remove_circle_outline", "text-grey-6"), "info": ("info", "text-grey-7")}
VERDICTS = {0: ("Intact, and its evidence verified", "text-positive"),
            1: ("Intact, but its evidence did not verify", "text-warning"),
            2: ("Tampered with or malformed", "text-negative"),
            3: ("Intact, but signed by another installation", "text-warning")}
NOT_A_PROOF = ("Not a SecretGPT proof file", "text-negative")


async def download_proof(hub: ChatHub, conversation_id: str, message_id: str, owner: str) -> None:
    try:
        signed = await hub.proof(conversation_id, message_id, owner=owner)
    except (ConversationNotFound, MessageNotFound, NoProof) as exc:
        notify(str(exc).strip("'\"") or "No proof for this answer.", "warning")
        return
    ui.download(signed.to_json().encode("utf-8"), f"proof-{message_id}.json", "application/json")


class VerifyProofDialog(ui.dialog):
    """Upload a proof file; the checks of `secretgpt-proof verify --key`, and the verdict.
    One file, one verdict: the uploader forgets each file once its verdict is shown (else it kept
    a ✓ beside every file uploaded, the tampered one included), and the verdict names its file."""

    def __init__(self, hub: ChatHub) -> None:
        super().__init__()
        self._hub = hub
        self._latest = 0  # the upload whose verdict is (or will be) shown
        with self, ui.card().classes("w-[40rem] max-w-full sg-verify-proof").mark("verify-proof"):
            with ui.row().classes("w-full items-center"):
                ui.label("Verify a proof").classes("text-lg font-medium")
                ui.space()
                ui.button(icon="close", on_click=self.close).props("flat round dense aria-label=Close")
            ui.label("Shows who signed it (this installation or another) and the text it vouches for; checks the "
                     "signature, the hash chain against the text, and the evidence again (offline where possible), "
                     "as this command does with this installation's key:").classes("text-xs")
            ui.label("secretgpt-proof verify FILE --key FINGERPRINT") \
                .classes("font-mono text-xs bg-gray-100 dark:bg-gray-800 rounded px-1 self-start")
            self._upload = ui.upload(label="Proof file (.json)", auto_upload=True, max_file_size=MAX_PROOF_BYTES,
                                     on_upload=self._uploaded) \
                .props("accept=.json,application/json aria-label='Proof file'").classes("w-full").mark("proof-upload")
            self._result = ui.column().classes("w-full gap-1")

    async def _uploaded(self, event: events.UploadEventArguments) -> None:
        self._latest += 1
        this = self._latest
        name = event.file.name
        self._result.clear()
        with self._result:
            ui.label(f"Checking {name}…").classes("text-xs text-grey-7")
        report = await self._hub.attestation.verify(await _read(event))
        if this != self._latest:
            return  # another file came meanwhile: its verdict is the one to show
        self._upload.reset()
        self._result.clear()
        with self._result:
            _show_report(name, report)


def _show_report(name: str, report: ProofReport) -> None:
    ui.label(name).classes("text-sm font-medium break-all sg-proof-file").mark("proof-file")
    _who_and_what(report)
    for line in report.lines:
        icon, color = MARKS[line.outcome]
        with ui.row().classes("items-start gap-2 no-wrap").mark(f"proof-check-{line.name}"):
            ui.icon(icon).classes(f"{color} text-base").props(f"aria-label={line.outcome}")
            ui.label(line.name).classes("text-sm font-medium w-24 shrink-0")
            ui.label(line.detail).classes("text-xs break-all")
    verdict, color = VERDICTS.get(report.exit_code, VERDICTS[2]) if report.is_proof else NOT_A_PROOF
    ui.label(f"{verdict} (exit {report.exit_code})").classes(f"{color} font-medium sg-proof-verdict").mark("proof-verdict")
    if report.is_proof:  # else the format line has said it all
        summary = f"Key {report.signer} is not this installation's; {report.evidence}" \
            if report.exit_code == EXIT_UNKNOWN_SIGNER else report.summary
        ui.label(summary).classes("text-xs break-all").mark("proof-summary")


def _who_and_what(report: ProofReport) -> None:
    """First who signed (this installation, another, or nobody provably) and the text vouched for:
    what a person must see before any green tick below means anything."""
    words = {"trusted": ("Signed by this installation", "text-positive"),
             "unknown": ("Signed by another installation, not this one: a proof is only as trustworthy as the "
                         "installation that signed it. Compare this fingerprint with its Settings.", "text-warning"),
             "invalid": ("Signer unknown: the signature does not hold (the fingerprint is the one the file names)",
                         "text-negative")}.get(report.trust or "")
    if words is not None:
        with ui.column().classes("w-full gap-0").mark("proof-signer"):
            ui.label(words[0]).classes(f"{words[1]} text-sm font-medium")
            ui.label(f"Key {report.signer}").classes("font-mono text-xs break-all")
    if report.text_sha256 is not None:
        with ui.column().classes("w-full gap-0").mark("proof-answer"):
            ui.label(f"Answer text ({report.text_chars:,} characters), SHA-256:").classes("text-xs")
            ui.label(report.text_sha256).classes("font-mono text-xs break-all")
            shown = f"“{report.first_line}”" if report.first_line else "(no text)"
            ui.label(shown).classes("text-xs italic break-all").mark("proof-first-line")


async def _read(event: events.UploadEventArguments) -> bytes:
    return await event.file.read()


class ProofSettings(ui.column):
    """In the Settings drawer: the key this installation signs proofs with, and "Verify a proof"."""

    def __init__(self, hub: ChatHub) -> None:
        super().__init__()
        self.classes("w-full gap-1 mt-4 sg-proof-settings")
        with self:
            ui.label("Answer proofs").classes("text-sm font-medium")
            ui.label("Signed with this installation's Ed25519 key, fingerprint (SHA-256):").classes("text-xs")
            ui.label(hub.attestation.fingerprint).classes("font-mono text-xs break-all").mark("key-fingerprint")
            dialog = VerifyProofDialog(hub)
            ui.button("Verify a proof", icon="fact_check", on_click=dialog.open) \
                .props("outline dense no-caps aria-label='Verify a proof'").mark("verify-proof-button")
