"""The "Conversation settings" dialog: system prompt, temperature, top_p, max tokens and seed.

Settings belong to a conversation (stored with it). Chosen before the first message, they wait
here and become the settings of the conversation that message starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from ...hub import ChatHub
from ...hub import BadMessage
from ...records import MAX_SYSTEM_PROMPT_CHARS, ConversationSettings, GenerationOptions
from ...records import ConversationNotFound
from .message_box import MessageBox
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
            self.system = MessageBox(MAX_SYSTEM_PROMPT_CHARS, _check_system_prompt, "System prompt",
                                     placeholder="e.g. You are a concise assistant.") \
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
        self.system.error = None
        for name, number in self.numbers.items():
            number.value = getattr(settings.options, name)
            number.error = None

    def save(self) -> None:
        held_back = self.system.held_back()
        if held_back is not None:
            self.system.error = held_back
            return
        values = {name: number.value for name, number in self.numbers.items()}
        try:
            settings = ConversationSettings(system=self.system.value or "", options=GenerationOptions(**values))
        except ValidationError as exc:
            # The same checks and words as the API (GenerationOptions), each under its field; a
            # notice only for what no field shows (else it says the same thing twice).
            fields: dict[str, ui.number | MessageBox] = {"system": self.system, **self.numbers}
            elsewhere = []
            for error in exc.errors():
                field = fields.get(str(error["loc"][-1]) if error["loc"] else "")
                if field is not None:
                    field.error = str(error["msg"])
                else:
                    elsewhere.append(str(error["msg"]))
            if elsewhere:
                notify("; ".join(elsewhere), "warning")
            return
        self.submit(settings)


def _check_system_prompt(length: int) -> None:
    if length > MAX_SYSTEM_PROMPT_CHARS:
        raise BadMessage(f"The system prompt is {length:,} characters long; the limit is {MAX_SYSTEM_PROMPT_CHARS:,}.")


def _checker(name: str) -> Callable[[float | None], str | None]:
    return lambda value: GenerationOptions.problem(name, value)
