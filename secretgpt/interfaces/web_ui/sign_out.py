"""Sign out (the settings drawer, when sign-in is on): the session signs in no more, on the server,
and every page of it goes to the sign-in page."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from nicegui import Client, app, core, ui

from ..sessions import session_id
from .login import LOGIN_PATH
from .sign_ins import SignIns

# Time for the pages to follow the navigation before their sockets are cut (a page that does
# not follow it, say a script holding a copied cookie, is then cut off: LoginRequired refuses
# its reconnection).
DISCONNECT_AFTER = 1.0


def sign_out_button() -> None:
    """Call while the page is built: its request names the session."""
    session = str(app.storage.browser["id"])
    preferences = app.storage.user

    async def sign_out() -> None:
        dialog.close()
        await end_session(session, preferences)

    with ui.dialog() as dialog, ui.card().classes("gap-3 max-w-[28rem]"):
        ui.label("Sign out of this browser?").classes("text-lg font-medium")
        ui.label("Its conversation list goes with the session: when you sign in here again, it starts empty "
                 "(the conversations stay stored, but this page no longer shows them). Export those you want "
                 "to keep first.").classes("text-sm text-grey-8")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Sign out", icon="logout", on_click=sign_out).props("no-caps color=negative") \
                .mark("confirm-sign-out")
    ui.button("Sign out", icon="logout", on_click=dialog.open).props("flat no-caps").classes("mt-4 self-start") \
        .mark("sign-out")


async def end_session(session: str, preferences: MutableMapping[str, Any]) -> None:
    SignIns(app.storage.general).sign_out(session)
    preferences.clear()  # nothing of this session is used again
    pages = [client for client in list(Client.instances.values())
             if not client.is_deleted and _session_of(client) == session]
    for client in pages:
        with client:
            ui.navigate.to(LOGIN_PATH)
    await asyncio.sleep(DISCONNECT_AFTER)
    for client in pages:
        # NiceGUI puts each page's sockets in a room named after its client.
        for socket, _ in list(core.sio.manager.get_participants("/", client.id)):
            await core.sio.disconnect(socket)


def _session_of(client: Client) -> str:
    try:
        return session_id(client.request.scope)
    except RuntimeError:  # a client made without a request (NiceGUI's own)
        return ""
