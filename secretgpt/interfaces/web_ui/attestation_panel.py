"""The attestation details panel: the status word and reason, a host's changed measurements, when
the evidence was fetched and that it has no nonce (what it shows), then each check with pass/fail
and its values (TEE type, TCB status and advisories, SecretVM template and version, the compose
hash, the TLS key "matches this connection", GPU model and nonce binding), when it was checked,
"Check again", and a host's verification log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from nicegui import ui

from ...hub import AttestationDesk, HostReport
from ...hub import NO_NONCE_NOTE, fetched_at_of
from .attestation_badge import WORDS
from .measurement_changes import MeasurementChanges
from .notices import notify

OUTCOME = {"pass": ("check_circle", "text-positive", "pass"), "fail": ("cancel", "text-negative", "fail"),
           "skipped": ("remove_circle_outline", "text-grey-6", "not checked")}
TITLES = {"evidence": "Evidence", "cpu_quote": "CPU quote", "tcb": "Platform TCB", "workload": "Workload (SecretVM)",
          "gpu": "GPU", "gpu_nonce": "GPU nonce binding", "tls_key": "TLS key"}
# (check, value key, label) in the order they are shown; everything else is in "All values".
SHOWN = [("evidence", "tee", "TEE type"), ("cpu_quote", "tee", "TEE type"), ("evidence", "template", "SecretVM template"),
         ("evidence", "version", "SecretVM version"), ("tcb", "tcb_status", "TCB status"),
         ("tcb", "advisory_ids", "Advisories"), ("workload", "template", "SecretVM template"),
         ("workload", "version", "SecretVM version"), ("tls_key", "connection_key_sha256", "TLS key fingerprint"),
         ("gpu", "models", "GPU model"), ("gpu", "arch", "GPU architecture"), ("gpu_nonce", "gpu_nonce", "GPU nonce")]


class AttestationView(Protocol):
    status: str
    reason: str
    origin: str | None
    checks: list[dict[str, Any]]
    checked_at: datetime | None


class AttestationPanel(ui.dialog):
    """`check_again`: attest the host now and return its new state (None: no such action). `desk`
    (a host's panel): its changed measurements with "Noted", and its verification log."""

    def __init__(self, title: str, view: AttestationView,
                 check_again: Callable[[], Awaitable[AttestationView]] | None = None,
                 desk: AttestationDesk | None = None) -> None:
        super().__init__()
        self._check_again = check_again
        self._desk = desk
        self._origin = view.origin
        with self, ui.card().classes("w-[40rem] max-w-full sg-attestation-panel").mark("attestation-panel"):
            with ui.row().classes("w-full items-center"):
                ui.label(title).classes("text-lg font-medium")
                ui.space()
                ui.button(icon="close", on_click=self.close).props("flat round dense aria-label=Close")
            self._body = ui.column().classes("w-full gap-2")
            with ui.row().classes("w-full justify-end"):
                if desk is not None:
                    ui.button("Verification log", icon="history", on_click=self._open_log) \
                        .props("flat no-caps aria-label='Verification log'").mark("open-verification-log")
                if check_again is not None:
                    self._again = ui.button("Check again", icon="refresh", on_click=self._recheck) \
                        .props("outline no-caps aria-label='Check again'").mark("check-again")
        self.show(view)

    def show(self, view: AttestationView) -> None:
        self._body.clear()
        color, icon, word = WORDS.get(view.status, WORDS["unverified"])
        with self._body:
            with ui.row().classes("items-center gap-2"):
                ui.icon(icon).classes(f"text-{color} text-2xl")
                ui.label(word).classes(f"text-{color} text-base font-medium").mark("attestation-word")
            ui.label(view.reason).classes("text-sm sg-attestation-reason").mark("attestation-reason")
            if isinstance(view, HostReport) and view.changes:
                MeasurementChanges(view.changes, view.changed_at, self._noted if self._desk else None)
            if view.origin:
                ui.label(f"Host: {view.origin}").classes("text-xs text-grey-7")
            checked = view.checked_at.strftime("%Y-%m-%d %H:%M:%S UTC") if view.checked_at else "not yet"
            ui.label(f"Checked: {checked}").classes("text-xs text-grey-7").mark("checked-at")
            fetched = fetched_at_of(view.checks)
            if fetched is not None:
                ui.label(f"Evidence fetched: {fetched:%Y-%m-%d %H:%M:%S} UTC").classes("text-xs text-grey-7") \
                    .mark("fetched-at")
                ui.label(NO_NONCE_NOTE).classes("text-xs text-grey-8").mark("freshness-note")
            for check in view.checks:
                check_row(check)

    async def _noted(self) -> None:
        assert self._desk is not None and self._origin
        try:
            self.show(await self._desk.acknowledge(self._origin))
        except LookupError as exc:
            notify(str(exc).strip("'\""), "warning")

    async def _open_log(self) -> None:
        from .verification_log import VerificationLogDialog

        assert self._desk is not None
        dialog = VerificationLogDialog(self._desk, self._origin)
        dialog.open()
        await dialog.load()

    async def _recheck(self) -> None:
        assert self._check_again is not None
        self._again.props("loading")
        try:
            self.show(await self._check_again())
        except Exception as exc:  # noqa: BLE001 - say it on the page, whatever it was
            notify(f"Could not check again: {exc}", "negative")
        finally:
            self._again.props(remove="loading")


def check_row(check: dict[str, Any]) -> None:
    name, values = str(check.get("name")), dict(check.get("values") or {})
    icon, color, outcome = OUTCOME.get(str(check.get("outcome")), OUTCOME["skipped"])
    with ui.column().classes("w-full gap-0 border-t pt-1 sg-check").mark(f"check-{name}"):
        with ui.row().classes("items-center gap-2 no-wrap"):
            ui.icon(icon).classes(f"{color} text-lg").props.update({"aria-label": outcome})
            ui.label(TITLES.get(name, name)).classes("text-sm font-medium")
            ui.label(outcome).classes(f"text-xs {color}")
        if check.get("detail"):
            ui.label(str(check["detail"])).classes("text-xs text-grey-8 break-all")
        for label, value in shown_values(name, values):
            ui.label(f"{label}: {value}").classes("text-xs break-all")
        if name == "workload" and values.get("compose_sha256"):
            with ui.expansion("Compose hash (SHA-256)").classes("text-xs w-full").props("dense"):
                ui.label(str(values["compose_sha256"])).classes("font-mono text-xs break-all").mark("compose-hash")


def shown_values(name: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    lines = [(label, _text(values[key])) for check, key, label in SHOWN
             if check == name and values.get(key) not in (None, "", [])]
    if name == "tls_key" and "matches_this_connection" in values:
        lines.append(("This connection", "matches this connection" if values["matches_this_connection"]
                      else "does NOT match this connection"))
    if name == "gpu_nonce" and values.get("gpu_nonce"):
        lines.append(("Nonce binding", "bound to the quote" if values.get("gpu_nonce") ==
                      values.get("report_data_32_64") else "not bound to the quote"))
    return lines


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)
