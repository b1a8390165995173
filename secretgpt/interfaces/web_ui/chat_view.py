"""`ChatView`: the conversation on the page, the message box and the stream controls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from nicegui import background_tasks, ui

from ...config import TypingSpeed
from ...hub import HostNotVerified
from ...hub import ChatHub
from ...hub import BadMessage, TooManyStreams
from ...hub import StreamView
from ...records import StreamStatus
from ...records import SecretAIError
from ...records import ConversationNotFound, MessageNotFound, StoredConversation, StoredMessage
from .announcer import Announcer
from .answer_view import AnswerMessage, ThinkStyle
from .attachment_tray import AttachmentTray
from .attestation_badge import AttestationActions
from .conversation_settings import ConversationSettingsPanel
from .edit_dialog import EditDialog
from .live_answer import LiveAnswer
from .message_actions import MessageActions
from .message_box import MessageBox
from .notices import notify
from .preferences import Preferences
from .remote_image import ImageFetcher
from .scroll_follow import ScrollFollow
from .stream_controls import StreamControls
from .unverified_host import UnverifiedHostNotice, warn_once
from .temporary_chat import TemporaryChat
from .user_message import UserMessage
from .welcome import Welcome

log = logging.getLogger(__name__)

RECENT_MESSAGES = 16  # shown when a conversation opens


@dataclass(frozen=True)
class ChatDisplay:
    """What the page shows the way the server is configured (not per browser)."""

    think_emoji: str
    think_color: str
    update_hz: float  # STREAMING_UPDATE_HZ
    default_system_prompt: str
    max_message_chars: int  # MAX_MESSAGE_CHARS: longer text stays in the browser (message_box.py)
    max_upload_bytes: int = 20_000_000  # MAX_UPLOAD_MB, and MAX_ATTACHMENTS files to a message
    max_attachments: int = 10
    images: ImageFetcher = field(default_factory=ImageFetcher)  # "Load image": public addresses only


class ChatView:
    def __init__(self, hub: ChatHub, owner: str, prefs: Preferences, display: ChatDisplay,
                 on_change: Callable[[str], Awaitable[None]] | None = None, *, demo: bool = False) -> None:
        self.hub = hub
        self.owner = owner
        self.prefs = prefs
        self.display = display
        self.on_change = on_change  # a conversation got a new message (the list moves it up)
        self.conversation_id: str | None = prefs.conversation_id
        self.demo = demo  # the offline demo model answers: the welcome's examples say so
        self._sending = False  # a message is on its way to the hub (not yet a stream)
        self._welcome_panel: Welcome | None = None
        self.live: LiveAnswer | None = None
        self._answers: list[AnswerMessage] = []
        self._consumer: asyncio.Task | None = None
        self.actions = MessageActions(regenerate=self.regenerate, continue_=self.continue_, edit=self.edit,
                                      select=self.select_alternative,
                                      attestation=AttestationActions(hub, owner, lambda: self.conversation_id))

        with ui.element("div").classes("relative w-full grow min-h-0") as area:
            # The content as wide as the area, so long lines wrap (or scroll in their own box).
            with ui.scroll_area().classes("w-full h-full sg-scroll [&_.q-scrollarea\\_\\_content]:!w-full") \
                    as scroll:
                self.messages = ui.column().classes("w-full max-w-4xl mx-auto gap-3 p-2")
            self.scroll = ScrollFollow(scroll)
        with ui.column().classes("w-full max-w-4xl mx-auto gap-1 shrink-0"):
            self.temporary = TemporaryChat(hub, owner, new_chat=self.conversation_id is None)  # gone with the page
            self.unverified = UnverifiedHostNotice(hub, owner)
            self._warned: set[str] = set()  # hosts already said to be unverified (ATTESTATION_POLICY=warn)
            self.tray = AttachmentTray(hub, owner, max_bytes=display.max_upload_bytes, max_files=display.max_attachments)
            with ui.row().classes("w-full items-end no-wrap gap-2"):
                self.tray.paperclip()
                self.input = MessageBox(display.max_message_chars, hub.validate_length, "Message",
                                        placeholder="Ask anything — Enter sends, Shift+Enter adds a line") \
                    .props("autogrow outlined dense input-class=max-h-48 aria-label=Message").classes("grow")
                self.input.on("keydown.enter.exact.prevent", self.send)
                self.tray.accept_paste(self.input)
                self.tray.accept_drops(area)
                self.settings_panel = ConversationSettingsPanel(hub, owner, lambda: self.conversation_id,
                                                                display.default_system_prompt)
                ui.button(icon="tune", on_click=self.settings_panel.open).mark("conversation-settings") \
                    .props("flat round aria-label='Conversation settings' title='Conversation settings'")
                # On a phone only its icon: the message box gets the width.
                self.send_button = ui.button("Send", icon="send", on_click=self.send).props("aria-label=Send") \
                    .classes("max-sm:[&_.block]:!hidden")
            self.controls = StreamControls(self.stop, self.toggle_pause)
            self.stop_button, self.pause_button, self.status = self.controls.stop, self.controls.pause, self.controls.status
        self.announcer = Announcer()
        self._set_running(False)
        # The page going away must not stop the answer (it runs server-side); only our reading of it.
        ui.context.client.on_delete(self._detach)

    # --- conversation -------------------------------------------------------------------------

    async def open(self, conversation_id: str | None, *, place: float | None = None) -> None:
        """Show a stored conversation (its active thread) and re-attach to an answer still streaming.
        It opens at its latest message, or at `place` (pixels from the top)."""
        self._detach()
        await self.temporary.leave(unless=conversation_id)
        self.conversation_id = conversation_id
        self.prefs.conversation_id = None if self.temporary.holds(conversation_id) else conversation_id
        self._clear()
        self.settings_panel.reset()
        self.temporary.show(conversation_id)
        if conversation_id is None:
            self._welcome()
            return
        try:
            opened = await self.hub.open(conversation_id, owner=self.owner)
        except ConversationNotFound:
            self.conversation_id = self.prefs.conversation_id = None
            self.temporary.show(None)
            self._welcome()
            return
        running = opened.stream
        try:
            self._render_thread(opened.conversation, running)
        except Exception:  # one bad message must not break the page (and every reload of it)
            log.exception("showing conversation %s failed", conversation_id)
            with self.messages:
                ui.label("Part of this conversation could not be shown.").classes("text-negative sg-error")
        if running is not None:
            self._attach(running, replay=True)
        if place is None:
            self.scroll.to_latest()
        else:
            self.scroll.keep(place)

    def _welcome(self) -> None:
        with self.messages:
            self._welcome_panel = Welcome(self.demo, self.send_text)

    def focus_message(self) -> None:
        self.input.run_method("focus")

    def _clear(self) -> None:
        self.messages.clear()
        self._welcome_panel = None
        self._answers.clear()

    def _render_thread(self, conversation: StoredConversation, live: StreamView | None,
                       everything: bool = False) -> None:
        """The stored thread; the live answer (if any) is shown by its own view, not from storage."""
        messages = conversation.messages
        if not everything and len(messages) > RECENT_MESSAGES:
            # Long conversations open at their end; the rest on request (opening stays fast).
            hidden = len(messages) - RECENT_MESSAGES
            with self.messages:
                ui.button(f"Show {hidden} earlier messages", icon="expand_less",
                          on_click=lambda: self._show_everything(conversation, live)) \
                    .props("flat dense no-caps").classes("self-center")
            messages = messages[hidden:]
        for message in messages:
            if message.role == "user":
                self._user_bubble(message)
            elif message.role == "assistant" and (live is None or message.stream_id != live.id):
                self._new_answer().show_stored(message, conversation.id, self.owner)

    def _show_everything(self, conversation: StoredConversation, live: StreamView | None) -> None:
        answer = self.live.answer if self.live is not None else None
        self._clear()
        self._render_thread(conversation, live, everything=True)
        if answer is not None:
            answer.move(self.messages)  # the live answer stays last
            self._answers.append(answer)

    def _user_bubble(self, message: StoredMessage) -> None:
        with self.messages:
            UserMessage(message.content, message.attachments).bind(message, self.actions)

    def _new_answer(self) -> AnswerMessage:
        style = ThinkStyle(self.display.think_emoji, self.display.think_color, self.prefs.show_reasoning)
        with self.messages:
            answer = AnswerMessage(style, self.actions, self.display.images)
        self._answers.append(answer)
        return answer

    def set_show_reasoning(self, show: bool) -> None:
        for answer in self._answers:
            answer.set_show_reasoning(show)

    # --- actions ------------------------------------------------------------------------------

    async def send(self) -> None:
        held_back = self.input.held_back()
        if held_back is not None:  # over the limit: the text stays in the box, unsent
            notify(held_back, "warning")
            return
        await self.send_text(self.input.value or "")

    async def send_text(self, message: str) -> None:
        """Send `message`: drawn at once, before the conversation is created and stored; if it
        cannot be sent, it goes back into the message box and a notice says why (never lost)."""
        if self.live is not None or self._sending:
            notify("Wait for this answer to finish, or stop it (Esc), then send your message.", "warning")
            return
        try:  # drawn as it will be stored (files alone are a question too)
            message = self.hub.validate(message) if message.strip() or not self.tray.files else ""
        except BadMessage as exc:
            notify(str(exc), "warning")
            return
        self._sending = True
        self.input.value = ""
        if self._welcome_panel is not None:
            self._welcome_panel.delete()
            self._welcome_panel = None
        with self.messages:
            drawn = UserMessage(message, self.tray.files)
        self.scroll.restart()
        self.scroll.to_end()
        try:
            sent = await self._start(message, drawn=drawn)
        finally:
            self._sending = False
        if not sent:
            drawn.delete()
            if not self.input.value:
                self.input.value = message
            if not self.messages.default_slot.children:
                self._welcome()

    async def regenerate(self, message_id: str) -> None:
        await self._start("", regenerate=message_id)

    async def continue_(self, message_id: str) -> None:
        await self._start("", continue_from=message_id)

    async def edit(self, message_id: str) -> None:
        if self.live is not None or self.conversation_id is None:
            return
        conversation = await self.hub.conversation(self.conversation_id, owner=self.owner)
        original = next((m for m in conversation.messages if m.id == message_id), None)
        if original is None:
            return
        dialog = EditDialog(original.content, self.display.max_message_chars, self.hub.validate_length)
        text = await dialog
        dialog.delete()
        if text and text != original.content:
            await self._start(text, edit=message_id)

    async def select_alternative(self, message_id: str) -> None:
        if self.live is not None or self.conversation_id is None:
            notify("Wait for the answer to finish, or stop it, before switching versions.")
            return
        await self.hub.select_alternative(self.conversation_id, message_id, owner=self.owner)
        # The reader stays where they were, not at the end or the top.
        await self.open(self.conversation_id, place=self.scroll.position)

    async def _start(self, message: str, drawn: UserMessage | None = None, **variant: str) -> bool:
        """Ask the model. `variant`: regenerate=, edit= or continue_from= a message id. `drawn`:
        the new message, already on the page."""
        if self.live is not None:
            return False
        chosen: dict[str, Any] = {**self.settings_panel.for_new_conversation(), **self.temporary.request()} \
            if self.conversation_id is None else {}
        self.unverified.dismiss()
        warn_once(self.hub, self.prefs.model, self._warned)
        try:
            stream = await self.hub.send(
                message, owner=self.owner, conversation_id=self.conversation_id, model=self.prefs.model,
                streaming=self.prefs.streaming, via="page", **variant, **chosen,
                attachments=self.tray.file_ids if drawn is not None else ())
        except HostNotVerified as refusal:  # nothing was sent: the text stays, with a way to send anyway
            self.unverified.show(refusal, lambda: self.send_text(message) if drawn is not None
                                 else self._start(message, **variant))
            return False
        except (TooManyStreams, SecretAIError, LookupError, ValueError) as exc:  # files' too (FileNotFound …)
            # Nothing was sent: the text stays where it was.
            notify(getattr(exc, "message", None) or str(exc), "negative")
            return False
        self.conversation_id = stream.conversation_id
        self.temporary.started(stream.conversation_id, chosen.get("temporary", False))
        if not self.temporary.holds(stream.conversation_id):  # nothing of a temporary chat is kept
            self.prefs.conversation_id = stream.conversation_id
        if variant:
            # The active thread changed shape (a new branch): show it as stored, then the answer.
            conversation = await self.hub.conversation(stream.conversation_id, owner=self.owner)
            self._detach()
            self._clear()
            self._render_thread(conversation, stream)
        else:
            now = datetime.now(timezone.utc)
            stored = StoredMessage(id=stream.user_message_id or "", role="user", content=message, created_at=now,
                                   updated_at=now, sibling_ids=[stream.user_message_id or ""], attachments=self.tray.files)
            self.tray.empty()
            if drawn is None or drawn.is_deleted:
                self._user_bubble(stored)
            else:
                drawn.bind(stored, self.actions)
        self._attach(stream, replay=False)
        if self.on_change is not None and not self.temporary.holds(stream.conversation_id):
            await self.on_change(stream.conversation_id)
        return True

    async def stop(self) -> None:
        if self.live is not None:
            await self.hub.stop(self.live.stream.id, owner=self.owner)

    async def toggle_pause(self) -> None:
        """Pause or resume; the button says so at once (the stream's own event follows)."""
        if self.live is None:
            return
        live = self.live
        live.paused = not live.paused
        self._show_pause_state(live.paused)
        verb = self.hub.pause if live.paused else self.hub.resume
        await verb(live.stream.id, owner=self.owner)

    # --- streaming into the page ----------------------------------------------------------------

    def _attach(self, stream: StreamView, *, replay: bool) -> None:
        answer = self._new_answer()
        answer.message_id = stream.message_id
        self.live = LiveAnswer(stream, answer, speed=TypingSpeed(self.prefs.typing_speed),
                               update_hz=self.display.update_hz, scroll=self.scroll, on_status=self.status.set_text)
        self.scroll.restart()
        self._set_running(True)
        self.live.paused = stream.paused
        self._show_pause_state(self.live.paused)
        if not replay:
            self.announcer.started()
        self._consumer = background_tasks.create(self._consume(self.live, replay), name=f"ui-{stream.id}")

    def _detach(self) -> None:
        """Stop showing the current stream (it goes on, and is kept, server-side)."""
        if self._consumer is not None and not self._consumer.done():
            self._consumer.cancel()
        self._consumer = None
        if self.live is not None:
            self._stream_ended()

    async def _consume(self, live: LiveAnswer, replay: bool) -> None:
        try:
            await self._finish(live, await live.run(replay))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("showing stream %s failed", live.stream.id)
            try:
                live.answer.finish(None, StreamStatus.ERROR,
                                   "The page failed to show this answer; it is kept on the server.")
            except Exception:  # never loop on the error path: the controls must come back
                log.exception("showing the failure of stream %s failed too", live.stream.id)
            self.announcer.ended(None)
            self._stream_ended()

    async def _finish(self, live: LiveAnswer, data: dict[str, Any]) -> None:
        stream, answer = live.stream, live.answer
        record = live.state.record()  # the final event is in: everything, stored already
        error = data.get("message") if record.status not in (StreamStatus.COMPLETED, StreamStatus.STOPPED) else None
        answer.finish(record, record.status, error)
        self.announcer.ended(record.status)
        self.scroll.to_end()
        self._stream_ended()
        if stream.message_id is None:
            return
        try:
            stored = await self.hub.message(stream.conversation_id, stream.message_id, owner=self.owner)
        except (ConversationNotFound, MessageNotFound):  # deleted meanwhile
            return
        if not answer.is_deleted:  # the reader may have moved on to another conversation
            answer.bind(stored)
            # Once more after the browser has laid out the last burst of content.
            self.scroll.to_end()

    def _stream_ended(self) -> None:
        self.live = None
        self._set_running(False)
        self.status.text = ""

    def _set_running(self, running: bool) -> None:
        self.controls.running(running)
        self.send_button.set_enabled(not running)

    def _show_pause_state(self, paused: bool) -> None:
        self.controls.paused(paused)
        if self.live is not None:
            status = StreamStatus.PAUSED if paused else self.live.state.status
            self.live.answer.set_status(status)
            self.status.text = self.live.answer.status.text  # one status: paused means paused
