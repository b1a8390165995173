"""What the model is asked for an answer, and where the answer goes in the conversation's tree: a
new question, a regenerated answer, an edited question or a continued answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..records import (
    ChatTurn, ConversationSettings, ExtractedFile, GenerationOptions, MessageNotFound, StoredConversation,
    StoredMessage,
)
from .attached import user_turn
from .errors import BadMessage
from .ports import ConversationStore


@dataclass(frozen=True)
class Files:
    """The files of a send: the new message's (file ids), and how turns carry them."""

    new: Sequence[str] = ()
    budget: int = 60_000  # MAX_ATTACHMENT_CHARS, per message
    vision: bool = False  # the model sees images
    names: Sequence[str] = ()  # the new files' names: a new conversation's title when no text came with them


@dataclass(frozen=True)
class Turn:
    messages: list[ChatTurn]
    user_message_id: str | None = None
    sibling_of: str | None = None
    prefix: StoredMessage | None = None  # Continue: the partial answer this one carries on


def title_from(message: str) -> str:
    words = " ".join(message.split())
    return words if len(words) <= 60 else words[:59].rstrip() + "…"


def model_context(messages: list[StoredMessage], contents: Mapping[str, ExtractedFile] | None = None,
                  files: Files | None = None) -> list[ChatTurn]:
    """What the model sees: the thread without reasoning, and without answers that hold nothing
    (failed before the first token) — they would teach the model to say nothing. User turns carry
    their files (`contents`: their text and bytes, by file id)."""
    files = files or Files()
    return [user_turn(m.content, m.attachments, contents or {}, budget=files.budget, vision=files.vision)
            if m.attachments else ChatTurn(role=m.role, content=m.content)
            for m in messages if m.role != "assistant" or m.content.strip()]


async def _contents(store: ConversationStore, conversation: StoredConversation, owner: str,
                    thread: list[StoredMessage], *extra: str) -> dict[str, ExtractedFile]:
    asked = [m.id for m in thread if m.attachments] + [e for e in extra if e]
    return await store.file_contents(conversation.id, owner, asked) if asked else {}


def with_system(system: str, messages: list[ChatTurn]) -> list[ChatTurn]:
    """The conversation's system prompt goes first, as every chat API expects it."""
    return [ChatTurn(role="system", content=system), *messages] if system.strip() else messages


async def conversation_for(store: ConversationStore, message: str, owner: str, conversation_id: str | None, *,
                           default_system: str, system: str | None, options: GenerationOptions | None,
                           variant: str | None) -> StoredConversation:
    """The conversation the answer goes into (a new one: made here, from the defaults)."""
    if conversation_id is None:
        if variant is not None:
            raise MessageNotFound("There is no such message in a new conversation.")
        defaults = ConversationSettings(system=default_system)
        return await store.create(owner, title_from(message), settings=defaults.changed(system, options))
    return await store.get(conversation_id, owner)


async def turn_for(store: ConversationStore, conversation: StoredConversation, owner: str, message: str, *,
                   regenerate: str | None, edit: str | None, continue_from: str | None,
                   files: Files | None = None) -> Turn:
    """What the model is asked; a new or edited question is stored here, with its files."""
    files = files or Files()
    thread = conversation.messages
    target = regenerate or edit or continue_from
    if target is None:
        user_message_id = await store.add_user_turn(conversation.id, owner, message, attachments=files.new)
        return Turn(await _asked(store, conversation, owner, message, thread, user_message_id, files), user_message_id)
    index = next((i for i, m in enumerate(thread) if m.id == target), None)
    expected = "user" if edit else "assistant"
    if index is None or thread[index].role != expected:
        raise MessageNotFound(f"No {expected} message {target!r} in this conversation.")
    if regenerate:
        turn = Turn(model_context(thread[:index], await _contents(store, conversation, owner, thread[:index]), files),
                    sibling_of=regenerate)
    elif edit:
        user_message_id = await store.add_user_turn(conversation.id, owner, message, sibling_of=edit,
                                                    attachments=files.new)
        turn = Turn(await _asked(store, conversation, owner, message, thread[:index], user_message_id,
                                 files, edited=True), user_message_id)
    else:
        earlier = thread[: index + 1]
        turn = Turn(model_context(earlier, await _contents(store, conversation, owner, earlier), files),
                    sibling_of=continue_from, prefix=thread[index])
    if not turn.messages or turn.messages[-1].role == "system":
        raise BadMessage("There is no question to answer here.")
    return turn


async def _asked(store: ConversationStore, conversation: StoredConversation, owner: str, message: str,
                 earlier: list[StoredMessage], user_message_id: str, files: Files,
                 edited: bool = False) -> list[ChatTurn]:
    """The earlier turns and the new question, each with its files."""
    # Only a question with files needs reading back: new ones, or an edit's (kept from the original).
    new = [await store.message(conversation.id, owner, user_message_id)] if files.new or edited else []
    new = [m for m in new if m.attachments]
    contents = await _contents(store, conversation, owner, [*earlier, *new])
    question = model_context(new, contents, files) if new else [ChatTurn(role="user", content=message)]
    return [*model_context(earlier, contents, files), *question]


async def settings_from_now_on(store: ConversationStore, conversation: StoredConversation, owner: str,
                               system: str | None, options: GenerationOptions | None) -> ConversationSettings:
    """What a request gave becomes the conversation's settings (stored) from this answer on."""
    settings = conversation.settings.changed(system, options)
    if settings != conversation.settings:
        await store.update_settings(conversation.id, owner, settings)
    return settings
