"""`UnverifiedHostNotice`: a prompt that was not sent because its model host is not a verified
confidential VM (ATTESTATION_POLICY=require), with why, and a way to send it anyway.

It stays above the message box (the message stays in the box, or the action can be asked again)
until the person sends anyway, dismisses it, or sends something else. "Send anyway" is consent
for that host as it is now: it holds until the host's state changes or the app restarts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from ...hub import HostNotVerified
from ...hub import ChatHub
from .notices import notify

WORDS = {"unverified": "could not be verified", "unbound": "is bound to another TLS key",
         "failed": "failed its attestation"}


class UnverifiedHostNotice(ui.card):
    def __init__(self, hub: ChatHub, owner: str) -> None:
        super().__init__()
        self._hub = hub
        self._owner = owner
        self._refusal: HostNotVerified | None = None
        self._retry: Callable[[], Awaitable[object]] | None = None
        self.classes("w-full bg-orange-1 dark:bg-orange-10 border border-orange-4 gap-1 p-3 sg-unverified-host")
        self.props('flat role=alert aria-live=assertive').mark("unverified-host")
        with self:
            with ui.row().classes("items-center no-wrap gap-2"):
                ui.icon("gpp_bad", color="warning").classes("text-xl shrink-0")
                self._title = ui.label().classes("text-weight-medium")
            self._reason = ui.label().classes("text-sm break-words")
            ui.label("Your message was not sent and is still in the box. SecretGPT sends prompts only to a "
                     "verified confidential VM.").classes("text-sm")
            with ui.row().classes("gap-2"):
                ui.button("Send anyway to this unverified host", icon="send", on_click=self._send_anyway) \
                    .props("unelevated dense no-caps color=warning text-color=black").mark("send-anyway")
                ui.button("Don't send", on_click=self.dismiss).props("flat dense no-caps").mark("dont-send")
        self.set_visibility(False)

    def show(self, refusal: HostNotVerified, retry: Callable[[], Awaitable[object]]) -> None:
        """`retry`: what to do once the person chose to send anyway (the same action again)."""
        self._refusal, self._retry = refusal, retry
        status = refusal.host_status
        self._title.text = f"Not sent: {refusal.origin} {WORDS.get(status.status, status.status)}"
        self._reason.text = f"Why: {status.reason}"
        self.set_visibility(True)

    def dismiss(self) -> None:
        self._retry = None
        self.set_visibility(False)

    async def _send_anyway(self) -> None:
        retry, refusal = self._retry, self._refusal
        self.dismiss()
        if retry is None or refusal is None:
            return
        self._hub.attestation.consent(refusal.origin, refusal.host_status, owner=self._owner)
        await retry()


def warn_once(hub: ChatHub, model: str | None, warned: set[str]) -> None:
    """Under ATTESTATION_POLICY=warn a prompt goes to any host; before the first one to a host that
    is not verified, say so (once per page and host)."""
    if hub.attestation.policy != "warn":
        return
    host = hub.attestation.host_for(model)
    if host is None or host.demo or host.status == "verified" or host.origin in warned:
        return
    warned.add(host.origin)
    notify(f"Sending to {host.origin}, which is not a verified confidential VM ({host.reason}). "
           "This app is set to send anyway (ATTESTATION_POLICY=warn); each answer says how it was judged.",
           "warning", timeout=10000)
