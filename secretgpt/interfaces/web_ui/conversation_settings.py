"""The "Conversation settings" dialog: system prompt, temperature, top_p, max tokens and seed.

Settings belong to a conversation (stored with it). Chosen before the first message, they wait
here and become the settings of the conversation that message starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from ...hub.chat_hub import ChatHub
from ...records import ConversationSettings, GenerationOptions
from ...storage import ConversationNotFound
from .notices import notify

# field -> (label, hint)
FIELDS = {
    "temperature": ("Temperature", "0 to 2"),
    "top_p": ("Top p", "0 to 1"),
    "max_tokens": ("Max tokens", "positive whole number"),
    "seed": ("Seed", "positive whole number"),
}


class ConversationSettingsPanel:
    def __init__(self, hub: ChatHub, owner: str, conversation_id: Callable[[], str | None],
                 default_system_prompt: str) -> None:
        self.hub = hub
        self.owner = owner
        self._conversation_id = conversation_id
        self._default_system_prompt = default_system_prompt  # DEFAULT_SYSTEM_PROMPT
        self.pending: ConversationSettings | None = None  # for the conversation the next message starts

    def defaults(self) -> ConversationSettings:
        return ConversationSettings(system=self._default_system_prompt)

    def reset(self) -> None:
        """A new chat starts from the defaults."""
        self.pending = None

    def for_new_conversation(self) -> dict[str, Any]:
        """`ChatHub.send` arguments for the conversation the next message starts."""
        chosen = self.pending
        return {"system": chosen.system, "options": chosen.options} if chosen is not None else {}

    async def open(self) -> None:
        conversation_id = self._conversation_id()
        current = self.pending or self.defaults()
        if conversation_id is not None:
            try:
                current = (await self.hub.conversation(conversation_id, owner=self.owner)).settings
            except ConversationNotFound:
                conversation_id = None
        scope = ("For this conversation's next answers." if conversation_id is not None
                 else "For the conversation your next message starts.")
        dialog = SettingsDialog(current, self.defaults(), scope)
        chosen = await dialog
        dialog.delete()
        if chosen is None:
            return
        if conversation_id is None:
            self.pending = chosen
        else:
            await self.hub.update_conversation(conversation_id, owner=self.owner, system=chosen.system,
                                               options=chosen.options)
        notify("Conversation settings saved.", "positive")


class SettingsDialog(ui.dialog):
    """The dialog itself, built for one edit (like the page's other dialogs). Awaiting it gives the
    chosen settings, or None when cancelled."""

    def __init__(self, current: ConversationSettings, defaults: ConversationSettings, scope: str) -> None:
        super().__init__(value=True)
        with self, ui.card().classes("w-[36rem] max-w-full sg-conversation-settings"):
            ui.label("Conversation settings").classes("text-lg font-medium")
            ui.label(scope).classes("text-xs text-grey-7 -mt-2")
            self.system = ui.textarea("System prompt", placeholder="e.g. You are a concise assistant.") \
                .props("autogrow outlined input-class=max-h-60 aria-label='System prompt'") \
                .classes("w-full").mark("system-prompt")
            self.numbers: dict[str, ui.number] = {}
            with ui.grid(columns=2).classes("w-full gap-2"):
                for name, (label, hint) in FIELDS.items():
                    self.numbers[name] = ui.number(label, placeholder="model default", validation=_checker(name)) \
                        .props(f"outlined dense clearable hint='{hint}' aria-label='{label}'").mark(name)
            ui.label("Empty fields use the model's own defaults.").classes("text-xs text-grey-7")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Defaults", on_click=lambda: self.fill(defaults)).props("flat").mark("settings-defaults")
                ui.button("Cancel", on_click=lambda: self.submit(None)).props("flat")
                ui.button("Save", on_click=self.save).mark("save-settings")
        self.fill(current)

    def fill(self, settings: ConversationSettings) -> None:
        self.system.value = settings.system
        for name, number in self.numbers.items():
            number.value = getattr(settings.options, name)
            number.error = None

    def save(self) -> None:
        values = {name: number.value for name, number in self.numbers.items()}
        try:
            settings = ConversationSettings(system=self.system.value or "", options=GenerationOptions(**values))
        except ValidationError as exc:
            # The same checks and words as the API (GenerationOptions).
            for error in exc.errors():
                name = str(error["loc"][-1]) if error["loc"] else ""
                if name in self.numbers:
                    self.numbers[name].error = error["msg"]
            notify("; ".join(str(e["msg"]) for e in exc.errors()), "warning")
            return
        self.submit(settings)


def _checker(name: str) -> Callable[[float | None], str | None]:
    return lambda value: GenerationOptions.problem(name, value)
