"""`ChatView`: the conversation on the page, the message box, and the stream controls."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from nicegui import background_tasks, ui
from nicegui.events import GenericEventArguments

from ...config import TypingSpeed
from ...hub.core.events import FINAL_EVENTS, StreamStatus
from ...hub.core.router import BadMessage, HubRouter, TooManyStreams
from ...hub.core.stream import ActiveStream
from ...services.secret_ai import SecretAIError
from ...storage import ConversationNotFound, MessageNotFound, StoredConversation, StoredMessage
from .answer_view import AnswerView
from .conversation_settings import ConversationSettingsPanel
from .message_actions import MessageActions, action_row
from .preferences import Preferences
from .reveal import RevealPacer

log = logging.getLogger(__name__)

RECENT_MESSAGES = 16  # shown when a conversation opens
SCROLL_INTERVAL = 0.4  # seconds between auto-scrolls while following a stream

class ChatView:
    def __init__(self, hub: HubRouter, owner: str, prefs: Preferences,
                 on_change: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.hub = hub
        self.owner = owner
        self.prefs = prefs
        self.on_change = on_change  # a conversation got a new message (the list moves it up)
        self.conversation_id: str | None = prefs.conversation_id
        self.stream: ActiveStream | None = None
        self.answer: AnswerView | None = None
        self._answers: list[AnswerView] = []
        self._consumer: asyncio.Task | None = None
        self._follow = True
        self.actions = MessageActions(regenerate=self.regenerate, continue_=self.continue_, edit=self.edit,
                                      select=self.select_alternative)

        with ui.scroll_area().classes("w-full grow sg-scroll") as self.scroll:
            self.messages = ui.column().classes("w-full max-w-4xl mx-auto gap-3 p-2")
        with ui.column().classes("w-full max-w-4xl mx-auto gap-1"):
            with ui.row().classes("w-full items-end no-wrap gap-2"):
                self.input = ui.textarea(label="Message", placeholder="Ask anything — Enter sends, Shift+Enter "
                                         "adds a line").props("autogrow outlined dense input-class=max-h-48 "
                                                              "aria-label=Message").classes("grow")
                self.input.on("keydown.enter.exact.prevent", self.send)
                self.settings_panel = ConversationSettingsPanel(hub, owner, lambda: self.conversation_id)
                ui.button(icon="tune", on_click=self.settings_panel.open).mark("conversation-settings") \
                    .props("flat round aria-label='Conversation settings'").tooltip("Conversation settings")
                self.send_button = ui.button("Send", icon="send", on_click=self.send).props("aria-label=Send")
            with ui.row().classes("items-center gap-2"):
                self.stop_button = ui.button("Stop", icon="stop", on_click=self.stop) \
                    .props("outline dense color=negative aria-label=Stop")
                self.pause_button = ui.button("Pause", icon="pause", on_click=self.toggle_pause) \
                    .props("outline dense aria-label=Pause")
                self.status = ui.label("").classes("text-xs text-grey-7 sg-stream-status")
        # Throttled: every programmatic scroll echoes an event back, and a stream scrolls often.
        self.scroll.on("scroll", self._on_scroll, args=["verticalPosition", "verticalSize", "verticalContainerSize"],
                       throttle=0.25, leading_events=False)
        self._scroll_position = 0.0
        self._set_running(False)
        # The page going away must not stop the answer (it runs server-side); only our reading of it.
        ui.context.client.on_delete(self._detach)

    # --- conversation -------------------------------------------------------------------------

    async def load(self) -> None:
        await self.open(self.conversation_id)

    async def open(self, conversation_id: str | None) -> None:
        """Show a stored conversation (its active thread) and re-attach to an answer still streaming."""
        self._detach()
        self.conversation_id = conversation_id
        self.prefs.conversation_id = conversation_id
        self.messages.clear()
        self._answers.clear()
        self.settings_panel.reset()
        if conversation_id is None:
            return
        # An answer that has just ended may not be stored in its final form yet.
        await self.hub.registry.wait_saved(conversation_id)
        try:
            conversation = await self.hub.store.get(conversation_id, self.owner)
        except ConversationNotFound:
            self.conversation_id = self.prefs.conversation_id = None
            return
        try:
            self._render_thread(conversation)
        except Exception:  # one bad message must not break the page (and every reload of it)
            log.exception("showing conversation %s failed", conversation_id)
            with self.messages:
                ui.label("Part of this conversation could not be shown.").classes("text-negative sg-error")
        running = self.hub.registry.for_conversation(conversation.id)
        if running is not None and running.owner == self.owner:
            self._attach(running, replay=True)

    async def new_chat(self) -> None:
        await self.open(None)
        self.input.run_method("focus")

    def _render_thread(self, conversation: StoredConversation, attaching: str | None = None,
                       everything: bool = False) -> None:
        live = {s.id for s in self.hub.registry.get_active_streams(self.owner)}
        if attaching is not None:
            live.add(attaching)  # it may already have ended; its view is the live one either way
        messages = conversation.messages
        if not everything and len(messages) > RECENT_MESSAGES:
            # Long conversations open at their end; the rest on request (opening stays fast).
            hidden = len(messages) - RECENT_MESSAGES
            with self.messages:
                ui.button(f"Show {hidden} earlier messages", icon="expand_less",
                          on_click=lambda: self._show_everything(conversation, attaching)) \
                    .props("flat dense no-caps").classes("self-center")
            messages = messages[hidden:]
        for message in messages:
            if message.role == "user":
                self._user_bubble(message)
            elif message.role == "assistant" and message.stream_id not in live:
                self._new_answer().show_stored(message, conversation.id, self.owner)

    def _show_everything(self, conversation: StoredConversation, attaching: str | None) -> None:
        running = self.stream
        self.messages.clear()
        self._answers.clear()
        self._render_thread(conversation, attaching, everything=True)
        if running is not None and self.answer is not None:
            self.answer.message.move(self.messages)  # the live answer stays last
            self._answers.append(self.answer)

    def _user_bubble(self, message: StoredMessage) -> None:
        with self.messages:
            with ui.chat_message(name="You", sent=True).classes("sg-user").props("bg-color=blue-1"):
                ui.label(message.content).classes("whitespace-pre-wrap break-words").mark("user-message")
                action_row(message, self.actions).classes("justify-end w-full")

    def _new_answer(self) -> AnswerView:
        with self.messages:
            view = AnswerView(emoji=self.hub.settings.think_emoji, color=self.hub.settings.think_color,
                              show_reasoning=self.prefs.show_reasoning, actions=self.actions)
        self._answers.append(view)
        return view

    def set_show_reasoning(self, show: bool) -> None:
        for view in self._answers:
            view.set_show_reasoning(show)

    # --- actions ------------------------------------------------------------------------------

    async def send(self) -> None:
        if self.stream is not None:
            return
        message = self.input.value or ""
        try:
            self.hub.validate(message)
        except BadMessage as exc:
            ui.notify(str(exc), type="warning")
            return
        if await self._start(message):
            self.input.value = ""

    async def regenerate(self, message_id: str) -> None:
        await self._start("", regenerate=message_id)

    async def continue_(self, message_id: str) -> None:
        await self._start("", continue_from=message_id)

    async def edit(self, message_id: str) -> None:
        if self.stream is not None or self.conversation_id is None:
            return
        conversation = await self.hub.store.get(self.conversation_id, self.owner)
        original = next((m for m in conversation.messages if m.id == message_id), None)
        if original is None:
            return
        with ui.dialog() as dialog, ui.card().classes("w-[40rem] max-w-full"):
            ui.label("Edit your message").classes("text-lg")
            box = ui.textarea(value=original.content).props("autogrow outlined aria-label='Edited message'") \
                .classes("w-full").mark("edited-message")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Send", on_click=lambda: dialog.submit(box.value)).mark("send-edited")
        text = await dialog
        dialog.delete()
        if text and text != original.content:
            await self._start(text, edit=message_id)

    async def select_alternative(self, message_id: str) -> None:
        if self.stream is not None or self.conversation_id is None:
            ui.notify("Wait for the answer to finish, or stop it, before switching versions.")
            return
        await self.hub.store.select_alternative(self.conversation_id, self.owner, message_id)
        await self.open(self.conversation_id)

    async def _start(self, message: str, **variant: str) -> bool:
        """Ask the model. `variant`: regenerate=, edit= or continue_from= a message id."""
        if self.stream is not None:
            return False
        chosen = self.settings_panel.for_new_conversation() if self.conversation_id is None else {}
        try:
            stream = await self.hub.stream_message(
                message, owner=self.owner, conversation_id=self.conversation_id, model=self.prefs.model,
                streaming=self.prefs.streaming, **variant, **chosen)
        except (BadMessage, TooManyStreams, ConversationNotFound, MessageNotFound, SecretAIError) as exc:
            # Nothing was sent: the text stays where it was.
            ui.notify(getattr(exc, "message", None) or str(exc), type="negative", multi_line=True)
            return False
        self.conversation_id = self.prefs.conversation_id = stream.conversation_id
        if variant:
            # The active thread changed shape (a new branch): show it as stored, then the answer.
            conversation = await self.hub.store.get(stream.conversation_id, self.owner)
            self._detach()
            self.messages.clear()
            self._answers.clear()
            self._render_thread(conversation, attaching=stream.id)
        else:
            now = datetime.now(timezone.utc)
            self._user_bubble(StoredMessage(id=stream.user_message_id or "", role="user", content=message,
                                            created_at=now, updated_at=now,
                                            sibling_ids=[stream.user_message_id or ""]))
        self._attach(stream, replay=False)
        if self.on_change is not None:
            await self.on_change(stream.conversation_id)
        return True

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.cancel()

    def toggle_pause(self) -> None:
        stream = self.stream
        if stream is None:
            return
        if stream.paused:
            stream.resume()
        else:
            stream.pause()
        self._show_pause_state(stream.paused)

    # --- streaming into the page ----------------------------------------------------------------

    def _attach(self, stream: ActiveStream, *, replay: bool) -> None:
        self.stream = stream
        self.answer = self._new_answer()
        self.answer.message_id = stream.message_id
        self._follow = True
        self._set_running(True)
        self._show_pause_state(stream.paused)
        self._consumer = background_tasks.create(self._consume(stream, self.answer, replay), name=f"ui-{stream.id}")

    def _detach(self) -> None:
        """Stop showing the current stream (it goes on, and is kept, server-side)."""
        if self._consumer is not None and not self._consumer.done():
            self._consumer.cancel()
        self._consumer = None
        if self.stream is not None:
            self._stream_ended()

    async def _consume(self, stream: ActiveStream, view: AnswerView, replay: bool) -> None:
        """Pull delivered events, reveal them at the typing pace, flush at STREAMING_UPDATE_HZ.

        One wake-up per flush, not per token: the page cost does not grow with the token rate.
        """
        interval = 1.0 / self.hub.settings.streaming_update_hz
        speed = TypingSpeed(self.prefs.typing_speed)
        pacer = RevealPacer(speed)
        catching_up = replay  # what streamed before a reload comes back at once, then the chosen pace
        backlog: deque[list[str]] = deque()  # [kind, text] segments not yet shown
        waiting = 0
        seq = 0
        final = None
        last = time.monotonic()
        last_status = 0.0
        last_scroll = 0.0
        try:
            while True:
                for event in stream.events_after(seq):
                    seq = event.seq
                    if event.type in ("think", "text"):
                        if backlog and backlog[-1][0] == event.type:
                            backlog[-1][1] += event.content
                        else:
                            backlog.append([event.type, event.content])
                        waiting += len(event.content)
                    elif event.type in FINAL_EVENTS:
                        final = event
                now = time.monotonic()
                if stream.paused and final is None and not catching_up:
                    # Pause freezes the display at once, including text already received.
                    last = now
                    await stream.changed()
                    continue
                take = waiting if final is not None or catching_up else pacer.allowance(waiting, now - last)
                catching_up = False
                waiting_before = waiting
                last = now
                waiting -= take
                while take > 0 and backlog:
                    kind, text = backlog[0]
                    piece, rest = text[:take], text[take:]
                    take -= len(piece)
                    if rest:
                        backlog[0][1] = rest
                    else:
                        backlog.popleft()
                    if kind == "think":
                        view.add_think(piece)
                    else:
                        view.add_text(piece, stream.think_seconds)
                shown = waiting_before != waiting
                view.flush()
                if final is not None and not backlog:
                    await self._finish(stream, view, final.data or {})
                    return
                if now - last_status >= 0.5:
                    last_status = now
                    self._update_status(stream, view)
                if self._follow and shown and now - last_scroll >= SCROLL_INTERVAL:
                    # A few times a second is enough to follow, and each scroll is a message.
                    last_scroll = now
                    self.scroll.scroll_to(percent=1.0)
                if not backlog:
                    await stream.changed()
                await asyncio.sleep(interval)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("showing stream %s failed", stream.id)
            try:
                view.finish(None, StreamStatus.ERROR, "The page failed to show this answer; it is kept on the server.")
            except Exception:  # never loop on the error path: the controls must come back
                log.exception("showing the failure of stream %s failed too", stream.id)
            self._stream_ended()

    async def _finish(self, stream: ActiveStream, view: AnswerView, data: dict) -> None:
        record = stream.record()
        error = data.get("message") if record.status not in (StreamStatus.COMPLETED, StreamStatus.STOPPED) else None
        view.finish(record, record.status, error)
        if self._follow:
            self.scroll.scroll_to(percent=1.0)
        self._stream_ended()
        await stream.wait_saved()
        if stream.message_id is None:
            return
        try:
            stored = await self.hub.store.message(stream.conversation_id, self.owner, stream.message_id)
        except (ConversationNotFound, MessageNotFound):  # deleted meanwhile
            return
        if not view.message.is_deleted:  # the reader may have moved on to another conversation
            view.bind(stored)
            if self._follow:
                # Once more after the browser has laid out the last burst of content.
                self.scroll.scroll_to(percent=1.0)

    def _stream_ended(self) -> None:
        self.stream = None
        self._set_running(False)
        self.status.text = ""

    def _update_status(self, stream: ActiveStream, view: AnswerView) -> None:
        rate = stream.tokens_per_second
        detail = f"{rate:.0f} tok/s" if rate is not None and stream.status is StreamStatus.STREAMING else ""
        view.set_status(stream.status, detail)
        self.status.text = f"{view.status.text} {detail}".strip()

    def _set_running(self, running: bool) -> None:
        self.stop_button.set_visibility(running)
        self.pause_button.set_visibility(running)
        self.send_button.set_enabled(not running)

    def _show_pause_state(self, paused: bool) -> None:
        label = "Resume" if paused else "Pause"
        self.pause_button.text = label
        self.pause_button.props(f"aria-label={label} icon={'play_arrow' if paused else 'pause'}")
        if self.answer is not None and self.stream is not None:
            self.answer.set_status(StreamStatus.PAUSED if paused else self.stream.status)

    def _on_scroll(self, event: GenericEventArguments) -> None:
        """Follow the stream until the reader scrolls up; follow again once they are back at the bottom.

        Content growing under a still scroll position is not the reader scrolling up."""
        position = float(event.args.get("verticalPosition") or 0)
        size = float(event.args.get("verticalSize") or 0)
        container = float(event.args.get("verticalContainerSize") or 0)
        if size - container - position <= 48:
            self._follow = True
        elif position < self._scroll_position - 4:
            self._follow = False
        self._scroll_position = position

