"""Before importing: what a file holds, which of it the owner already has; Markdown exports are
named as such."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from secretgpt.storage.export import InvalidImport
from secretgpt.storage.sql import SqlConversationStore

from .test_storage_export import A, B, rich_conversation


@pytest.fixture
async def store(make_store: Callable[[], Awaitable[SqlConversationStore]]) -> SqlConversationStore:
    """On SQLite and on PostgreSQL (tests/conftest.py)."""
    return await make_store()


async def test_preview_names_each_conversation_and_what_is_already_here(store: SqlConversationStore) -> None:
    conv_id = await rich_conversation(store)
    other = await store.create(A, "Something else")
    await store.add_user_turn(other.id, A, "Hello")
    exported = await store.export_json(conv_id, A)

    # The conversation it was exported from is already here.
    [candidate] = await store.preview_import(A, exported)
    assert (candidate.title, candidate.message_count, candidate.existing_id) == ("Tides & the moon", 7, conv_id)
    # Another owner does not have it.
    [theirs] = await store.preview_import(B, exported)
    assert theirs.existing_id is None

    # Imported by B once: the second time B is told, and can still make a copy.
    [first] = await store.import_json(B, exported)
    [again] = await store.preview_import(B, exported)
    assert again.existing_id == first
    assert await store.import_json(B, exported, skip_existing=True) == []
    [copy_id] = await store.import_json(B, exported)
    assert copy_id != first
    assert len(await store.list_conversations(B)) == 2


async def test_an_imported_copy_is_told_apart_by_its_title(store: SqlConversationStore) -> None:
    conv_id = await rich_conversation(store)
    exported = await store.export_json(conv_id, A)
    # A's own conversation is here, so each import is a copy; another owner's first import is not.
    copies = [await store.import_json(A, exported) for _ in range(3)]
    titles = [(await store.get(copy_id, A)).title for [copy_id] in copies]
    assert titles == ["Tides & the moon (imported copy)", "Tides & the moon (imported copy 2)",
                      "Tides & the moon (imported copy 3)"]
    assert (await store.get(conv_id, A)).title == "Tides & the moon"
    [theirs] = await store.import_json(B, exported)
    assert (await store.get(theirs, B)).title == "Tides & the moon"
    # A copy's own export, imported again: still one suffix, the next free number.
    [again] = await store.import_json(A, await store.export_json(copies[0][0], A))
    assert (await store.get(again, A)).title == "Tides & the moon (imported copy 4)"


async def test_export_all_reimported_skips_only_what_is_here(store: SqlConversationStore) -> None:
    conv_id = await rich_conversation(store)
    everything = await store.export_all(A)
    await store.delete(conv_id, A)
    fresh = await store.create(A, "Made after the export")
    await store.add_user_turn(fresh.id, A, "New")
    everything["conversations"].append((await store.export_json(fresh.id, A))["conversation"])
    candidates = await store.preview_import(A, everything)
    assert [(c.title, c.existing_id) for c in candidates] == [("Tides & the moon", None),
                                                              ("Made after the export", fresh.id)]
    [restored] = await store.import_json(A, everything, skip_existing=True)
    assert (await store.get(restored, A)).title == "Tides & the moon"


async def test_same_start_but_different_first_message_is_not_the_same(store: SqlConversationStore) -> None:
    conv_id = await rich_conversation(store)
    exported = await store.export_json(conv_id, A)
    exported["conversation"]["messages"][0]["content"] = "A different first question"
    [candidate] = await store.preview_import(A, exported)
    assert candidate.existing_id is None


async def test_a_markdown_export_is_named_and_refused(store: SqlConversationStore) -> None:
    conv_id = await rich_conversation(store)
    markdown = await store.export_markdown(conv_id, A)
    with pytest.raises(InvalidImport, match="Markdown export.*cannot be imported back.*JSON export"):
        await store.preview_import(A, markdown.encode())
    with pytest.raises(InvalidImport, match="not JSON.*SecretGPT imports the JSON files it exports"):
        await store.preview_import(A, b"# Just some notes\n\nhello")
