"""Attestation badges: one in the header for the current model host, a small one on each answer
(with "Download proof"). Clicking a badge opens the details panel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from ...hub import ChatHub
from ...records import AnswerAttestation
from ...records import StoredMessage
from .notices import notify

# status word -> (Quasar colour, icon, what the badge says)
WORDS = {
    "verified": ("positive", "verified_user", "Verified confidential VM"),
    "unbound": ("warning", "gpp_maybe", "Unbound: another TLS key"),
    "unverified": ("grey-7", "shield", "Unverified"),
    "failed": ("negative", "gpp_bad", "Attestation failed"),
}
DEMO_TEXT = "Demo model — not a confidential VM"
CHANGED_ICON = "published_with_changes"  # the header badge's marker: the host's measurements changed


class AttestationBadge(ui.button):
    """A status word as a small button; `compact` for answers."""

    def __init__(self, on_click: Callable[[], Any], *, compact: bool = False) -> None:
        super().__init__(on_click=on_click)
        self.props("dense no-caps unelevated rounded size=sm" if compact else "dense no-caps unelevated rounded")
        self.classes("sg-attestation-badge").mark("attestation-badge")

    def show(self, status: str, reason: str, *, demo: bool = False, checking: bool = False,
             changed: bool = False) -> None:
        """`changed`: the host's measurements changed since it was last verified (a marker on the badge)."""
        color, icon, word = WORDS.get(status, WORDS["unverified"])
        if demo:
            color, word = "orange", DEMO_TEXT
        elif checking:
            word = "Checking the VM…"
        label = f"Attestation: {word}" + (", changed since you last used it" if changed else "") + " (details)"
        # As a dict, not a props string: the reason may hold any character.
        props = {"color": color, "icon": icon, "aria-label": label, "title": reason[:300],
                 "icon-right": CHANGED_ICON if changed else None}
        if word == self.text and all(self.props.get(key) == value for key, value in props.items()):
            return  # the page's timer asks every 2 s: send nothing when nothing changed
        self.text = word
        self.props.update({key: value for key, value in props.items() if value is not None})
        self.props.set_optional("icon-right", props["icon-right"])


@dataclass(frozen=True)
class AttestationActions:
    """What answers' badges and proof buttons do (given by the chat view)."""

    hub: ChatHub
    owner: str
    conversation_id: Callable[[], str | None]

    async def check_again(self, origin: str) -> Any:
        return await self.hub.attestation.check_again(origin)

    async def download(self, message_id: str) -> None:
        from .proof_dialog import download_proof

        conversation_id = self.conversation_id()
        if conversation_id is not None:
            await download_proof(self.hub, conversation_id, message_id, self.owner)


class AnswerAttestationBar(ui.row):
    """Under an answer: its attestation badge and "Download proof" (unless not `proof`)."""

    def __init__(self, message: StoredMessage, actions: AttestationActions, *, proof: bool = True) -> None:
        super().__init__()
        self.classes("items-center gap-1 sg-answer-attestation")
        stored = message.metadata.get("attestation")
        try:
            self.attestation = AnswerAttestation.model_validate(stored) if stored else None
        except ValidationError:  # written by an older or newer app: shown as no badge, not a broken page
            self.attestation = None
        self._actions = actions
        with self:
            if self.attestation is not None:
                badge = AttestationBadge(self.open_panel, compact=True).mark("attestation-badge", "answer-badge")
                demo = self.attestation.reason == DEMO_TEXT
                badge.show(self.attestation.status, self.attestation.reason, demo=demo)
            if proof:
                ui.button(icon="download", on_click=lambda: actions.download(message.id)) \
                    .props("flat dense round size=sm aria-label='Download proof' title='Download proof'") \
                    .mark("download-proof")

    def open_panel(self) -> None:
        from .attestation_panel import AttestationPanel

        view = self.attestation
        assert view is not None
        again = (lambda: self._actions.check_again(str(view.origin))) if view.origin and \
            view.reason != DEMO_TEXT else None
        AttestationPanel("This answer's attestation", view, again).open()


class HostBadge(AttestationBadge):
    """The header badge: the host of the current model, refreshed by the page's timer."""

    def __init__(self, hub: ChatHub, model: Callable[[], str | None]) -> None:
        super().__init__(self.open_panel)
        # One line, cut with "…" on a phone (the full words are its name and title): the header stays one row.
        self.props("no-wrap").classes("min-w-0 max-sm:max-w-[34vw] [&_.block]:truncate")
        self._hub = hub
        self._model = model
        self.refresh()

    def refresh(self) -> None:
        report = self._hub.attestation.host_for(self._model())
        self.set_visibility(report is not None)
        if report is not None:
            self.show(report.status, report.reason, demo=report.demo, checking=report.checking,
                      changed=bool(report.changes))

    def open_panel(self) -> None:
        from .attestation_panel import AttestationPanel

        report = self._hub.attestation.host_for(self._model())
        if report is None:
            notify("No model host yet.")
            return

        async def again() -> Any:
            fresh = await self._hub.attestation.check_again(report.origin)
            self.refresh()
            return fresh

        AttestationPanel("Model host attestation", report, None if report.demo else again,
                         None if report.demo else self._hub.attestation).open()
