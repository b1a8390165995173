"""The buttons under a message (native `title` tooltips: a tooltip element per button would cost
an element each, for every message of every conversation opened): copy, regenerate, continue, edit, and flipping through alternatives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from ...records import StoredMessage
from .notices import notify

Action = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class MessageActions:
    """What the chat does when a message's button is pressed (each gets the message id)."""

    regenerate: Action
    continue_: Action
    edit: Action
    select: Action
    # Answers' attestation badge and "Download proof" (attestation_badge.AttestationActions).
    attestation: Any = None


def copy_text(text: str) -> None:
    """Into the browser's clipboard (`ui.clipboard.write` only sends the JavaScript: not awaitable)."""
    ui.clipboard.write(text)
    notify("Copied", "positive", timeout=1000)


def action_row(message: StoredMessage, actions: MessageActions, *, regenerate: bool = True) -> ui.row:
    """Buttons for a stored message, in a row that can be cleared and rebuilt. `regenerate`: False
    when the answer has its own Retry (the same action)."""
    with ui.row().classes("items-center gap-0 text-grey-7") as row:
        if len(message.sibling_ids) > 1:
            index, siblings = message.sibling_index, message.sibling_ids
            previous = ui.button(icon="chevron_left", on_click=lambda: actions.select(siblings[index - 1])) \
                .props("flat dense round size=sm aria-label='Previous version'").mark("previous-version")
            previous.set_enabled(index > 0)
            ui.label(f"{index + 1} / {len(siblings)}").classes("text-xs sg-version").mark("version")
            following = ui.button(icon="chevron_right", on_click=lambda: actions.select(siblings[index + 1])) \
                .props("flat dense round size=sm aria-label='Next version'").mark("next-version")
            following.set_enabled(index < len(siblings) - 1)
        ui.button(icon="content_copy", on_click=lambda: copy_text(message.content)) \
            .props("flat dense round size=sm aria-label=Copy title=Copy").mark("copy")
        if message.role == "user":
            ui.button(icon="edit", on_click=lambda: actions.edit(message.id)) \
                .props("flat dense round size=sm aria-label=Edit title='Edit and ask again'").mark("edit")
        else:
            if regenerate:
                ui.button(icon="refresh", on_click=lambda: actions.regenerate(message.id)) \
                    .props("flat dense round size=sm aria-label=Regenerate title=Regenerate").mark("regenerate")
            if message.partial and message.content:
                ui.button("Continue", icon="play_arrow", on_click=lambda: actions.continue_(message.id)) \
                    .props("flat dense no-caps size=sm aria-label=Continue").mark("continue")
    return row
