"""Export to JSON/Markdown and import back, against a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import pytest

import secretgpt
from secretgpt.records import StreamRecord, StreamStatus
from secretgpt.records import StoredConversation
from secretgpt.storage.export import InvalidImport
from secretgpt.storage.sql import SqlConversationStore

A, B = "owner-a", "owner-b"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
async def store(make_store: Callable[[], Awaitable[SqlConversationStore]]) -> SqlConversationStore:
    return await make_store()


@pytest.fixture
async def other_store(make_store: Callable[[], Awaitable[SqlConversationStore]]) -> SqlConversationStore:
    """Another database of the same backend."""
    return await make_store()


def answer(conversation_id: str, stream_id: str, text: str, status: StreamStatus, **fields: Any) -> StreamRecord:
    return StreamRecord(stream_id=stream_id, conversation_id=conversation_id, owner=A, model="deepseek-r1:70b",
                        status=status, text=text, started_at=T0, **fields)


async def rich_conversation(store: SqlConversationStore) -> str:
    """Reasoning, every kind of ending, a regenerated answer and an edited question."""
    conv = await store.create(A, "Tides & the moon")
    await store.add_user_turn(conv.id, A, "Why are there two tides a day?")
    first = await store.save_answer(answer(
        conv.id, "s1", "Because of the moon", StreamStatus.STOPPED, think="The moon pulls…",
        think_seconds=2.25, time_to_first_token=0.4, prompt_tokens=11, completion_tokens=5,
        ended_at=datetime(2025, 3, 1, 12, 0, 3, tzinfo=timezone.utc)))
    await store.save_answer(answer(
        conv.id, "s2", "The moon's pull bulges the ocean on both sides of the Earth.", StreamStatus.COMPLETED,
        think="Two bulges: near side and far side. Mention </details> safely.", think_seconds=4.0,
        completion_tokens=15, done_reason="stop"), sibling_of=first)
    question = await store.add_user_turn(conv.id, A, "And the sun?")
    await store.save_answer(answer(conv.id, "s3", "", StreamStatus.ERROR, error_kind="unreachable",
                                   error="The model server did not answer."))
    await store.add_user_turn(conv.id, A, "What about the sun?", sibling_of=question)
    await store.save_answer(answer(conv.id, "s4", "It adds spring and neap tides", StreamStatus.INTERRUPTED))
    return conv.id


def without_ids(doc: dict[str, Any]) -> dict[str, Any]:
    """The export with ids replaced by their position, and the export time dropped."""
    doc = copy.deepcopy(doc)
    doc.pop("exported_at")
    for conv in doc.get("conversations") or [doc["conversation"]]:
        position = {m["id"]: i for i, m in enumerate(conv["messages"])}
        conv["id"] = None
        conv["current_leaf_id"] = position.get(conv["current_leaf_id"])
        for m in conv["messages"]:
            m["id"] = position[m["id"]]
            m["parent_id"] = position.get(m["parent_id"])
    return doc


async def snapshot(store: SqlConversationStore, *owners: str) -> list[Any]:
    """Everything a user could see, to show that a failed import changed nothing."""
    return [await store.export_all(owner) | {"exported_at": None} for owner in owners]


# --- JSON ----------------------------------------------------------------------------------------

async def test_export_is_lossless(store: SqlConversationStore):
    conv_id = await rich_conversation(store)
    doc = await store.export_json(conv_id, A)

    assert (doc["format"], doc["version"], doc["app_version"]) == ("secretgpt.conversation", 1,
                                                                   secretgpt.__version__)
    conv = doc["conversation"]
    assert conv["title"] == "Tides & the moon"
    assert len(conv["messages"]) == 7  # the whole tree, not just the active thread
    by_stream = {m["stream_id"]: m for m in conv["messages"] if m["stream_id"]}
    stopped = by_stream["s1"]
    assert (stopped["status"], stopped["think"], stopped["content"]) == ("stopped", "The moon pulls…",
                                                                        "Because of the moon")
    assert stopped["metadata"]["model"] == "deepseek-r1:70b"
    assert stopped["metadata"]["think_seconds"] == 2.25 and stopped["metadata"]["prompt_tokens"] == 11
    assert stopped["metadata"]["ended_at"] == "2025-03-01T12:00:03Z"
    assert by_stream["s2"]["parent_id"] == stopped["parent_id"]  # regenerate: siblings
    assert by_stream["s3"]["metadata"]["error"] == "The model server did not answer."
    assert by_stream["s4"]["status"] == "interrupted"
    assert conv["current_leaf_id"] == by_stream["s4"]["id"]
    json.dumps(doc)  # plain JSON, ready for a file


async def test_round_trip_is_equal_apart_from_ids(store: SqlConversationStore, other_store: SqlConversationStore):
    conv_id = await rich_conversation(store)
    exported = await store.export_json(conv_id, A)

    # Through a file's worth of text, into another database, for another owner.
    [imported_id] = await other_store.import_json(B, json.dumps(exported))
    again = await other_store.export_json(imported_id, B)
    assert without_ids(again) == without_ids(exported)
    assert imported_id != conv_id

    # The imported copy behaves like the original: same active thread, alternatives intact.
    original, copy_ = await store.get(conv_id, A), await other_store.get(imported_id, B)
    def turns(conversation: StoredConversation) -> list[tuple[str, str, str]]:
        return [(m.role, m.content, m.think) for m in conversation.messages]

    assert turns(copy_) == turns(original)
    assert [len(m.sibling_ids) for m in copy_.messages] == [1, 2, 2, 1]


async def test_import_never_clobbers_existing_conversations(store: SqlConversationStore):
    conv_id = await rich_conversation(store)
    before = await store.export_json(conv_id, A)

    first = await store.import_json(A, before)
    second = await store.import_json(A, before)
    assert len({conv_id, *first, *second}) == 3
    assert await store.export_json(conv_id, A) | {"exported_at": None} == before | {"exported_at": None}
    all_ids = [m["id"] for c in (await store.export_all(A))["conversations"] for m in c["messages"]]
    assert len(all_ids) == len(set(all_ids)) == 3 * 7

    # A checkpoint of the original's stream still lands on the original only.
    await store.save_answer(answer(conv_id, "s4", "It adds spring and neap tides, and more", StreamStatus.COMPLETED))
    assert (await store.get(conv_id, A)).messages[-1].content.endswith("and more")
    assert (await store.get(first[0], A)).messages[-1].content == "It adds spring and neap tides"


async def test_export_all_and_import_all(store: SqlConversationStore, other_store: SqlConversationStore):
    await rich_conversation(store)
    empty = await store.create(A, "Empty")
    await store.create(B, "Not A's")

    everything = await store.export_all(A)
    assert everything["format"] == "secretgpt.conversations"
    assert [c["title"] for c in everything["conversations"]] == ["Empty", "Tides & the moon"]
    assert everything["conversations"][0]["id"] == empty.id

    ids = await other_store.import_json(A, everything)
    assert len(ids) == 2
    assert without_ids(await other_store.export_all(A)) == without_ids(everything)


async def test_import_turns_unfinished_answers_into_interrupted_ones(store: SqlConversationStore):
    conv = await store.create(A, "Mid-stream")
    await store.add_user_turn(conv.id, A, "q")
    await store.save_answer(answer(conv.id, "s1", "half an ans", StreamStatus.STREAMING))
    doc = await store.export_json(conv.id, A)
    assert doc["conversation"]["messages"][1]["status"] == "streaming"

    [copy_id] = await store.import_json(A, doc)
    assert (await store.get(copy_id, A)).messages[1].status is StreamStatus.INTERRUPTED
    assert (await store.get(conv.id, A)).messages[1].status is StreamStatus.STREAMING


async def test_an_imported_answer_brings_no_attestation_claim(store: SqlConversationStore):
    """Only the app's own proof gives an answer its badge: a file could claim "verified" for anything."""
    conv = await store.create(A, "Claims")
    await store.add_user_turn(conv.id, A, "q")
    await store.save_answer(answer(conv.id, "s1", "an answer", StreamStatus.COMPLETED))
    doc = await store.export_json(conv.id, A)
    doc["conversation"]["messages"][1]["metadata"]["attestation"] = {"status": "verified", "reason": "trust me"}
    doc["conversation"]["messages"][1]["metadata"]["note"] = "kept"

    [copy_id] = await store.import_json(A, doc)
    imported = (await store.get(copy_id, A)).messages[1]
    assert imported.metadata["attestation"] is None
    assert imported.metadata["note"] == "kept"


async def test_hand_edited_times_without_offset_are_utc(store: SqlConversationStore):
    conv_id = await rich_conversation(store)
    doc = await store.export_json(conv_id, A)
    doc["conversation"]["created_at"] = "2024-06-01T08:30:00"
    [copy_id] = await store.import_json(A, doc)
    assert (await store.get(copy_id, A)).created_at == datetime(2024, 6, 1, 8, 30, tzinfo=timezone.utc)


# --- bad files -----------------------------------------------------------------------------------

def _valid() -> dict[str, Any]:
    at = "2025-03-01T12:00:00Z"
    return {
        "format": "secretgpt.conversation", "version": 1, "app_version": "0.1.0", "exported_at": at,
        "conversation": {
            "id": "c1", "title": "Fine", "created_at": at, "updated_at": at, "current_leaf_id": "m2",
            "messages": [
                {"id": "m1", "parent_id": None, "role": "user", "content": "hi", "think": "",
                 "created_at": at, "updated_at": at, "stream_id": None, "status": None, "metadata": {}},
                {"id": "m2", "parent_id": "m1", "role": "assistant", "content": "hello", "think": "",
                 "created_at": at, "updated_at": at, "stream_id": "s1", "status": "completed",
                 "metadata": {"model": "m"}},
            ],
        },
    }


def _edit(change):
    """A valid file with one thing changed in place."""
    def make() -> dict[str, Any]:
        doc = _valid()
        change(doc)
        return doc
    return make


BAD_FILES = {
    "not json": (lambda: "{this is not json", "not JSON"),
    "binary junk": (lambda: b"\x89PNG\r\n\x1a\n", "not JSON"),
    "a json list": (lambda: json.dumps([_valid()]), "expected a JSON object, found a list"),
    "a json string": (lambda: '"secretgpt"', "expected a JSON object, found a str"),
    "another app's file": (_edit(lambda d: d.update(format="chatgpt.export")), "'chatgpt.export'"),
    "no format": (_edit(lambda d: d.pop("format")), 'no "format" field'),
    "newer version": (_edit(lambda d: d.update(version=2)), "format version 2"),
    "version as text": (_edit(lambda d: d.update(version="1")), "format version '1'"),
    "missing title": (_edit(lambda d: d["conversation"].pop("title")), "conversation.title: Field required"),
    "missing role": (_edit(lambda d: d["conversation"]["messages"][1].pop("role")),
                     "conversation.messages[1].role: Field required"),
    "unknown role": (_edit(lambda d: d["conversation"]["messages"][0].update(role="robot")),
                     "conversation.messages[0].role"),
    "unknown status": (_edit(lambda d: d["conversation"]["messages"][1].update(status="exploded")),
                       "conversation.messages[1].status"),
    "bad date": (_edit(lambda d: d["conversation"].update(created_at="yesterday")), "conversation.created_at"),
    "dangling parent": (_edit(lambda d: d["conversation"]["messages"][1].update(parent_id="nowhere")),
                        "parent_id 'nowhere', which is not a message of this conversation"),
    "duplicate ids": (_edit(lambda d: d["conversation"]["messages"][1].update(id="m1", parent_id=None)),
                      "'m1' appears twice"),
    "parent loop": (_edit(lambda d: d["conversation"]["messages"][0].update(parent_id="m2")), "own ancestor"),
    "dangling leaf": (_edit(lambda d: d["conversation"].update(current_leaf_id="m9")), "current_leaf_id 'm9'"),
    "unexpected field": (_edit(lambda d: d["conversation"].update(owner="someone")), "conversation.owner"),
    "one bad among many": (lambda: {
        "format": "secretgpt.conversations", "version": 1, "app_version": "0.1.0", "exported_at": "2025-03-01T12:00:00Z",
        "conversations": [_valid()["conversation"], {**_valid()["conversation"], "current_leaf_id": "zz"}]},
        "conversations[1]: current_leaf_id 'zz'"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
async def test_bad_import_is_rejected_clearly_and_changes_nothing(store: SqlConversationStore, case: str):
    make, expected_message = BAD_FILES[case]
    await rich_conversation(store)
    await store.import_json(B, _valid())  # the untouched file imports fine
    before = await snapshot(store, A, B)

    with pytest.raises(InvalidImport) as caught:
        await store.import_json(A, make())
    assert expected_message in str(caught.value)
    assert await snapshot(store, A, B) == before


async def test_invalid_import_is_a_value_error_with_a_readable_summary(store: SqlConversationStore):
    doc = _valid()
    for m in doc["conversation"]["messages"]:
        m.pop("role")
        m.pop("content")
    doc["conversation"].pop("title")
    with pytest.raises(ValueError) as caught:  # InvalidImport is a ValueError: API layers map it to 400
        await store.import_json(A, doc)
    message = str(caught.value)
    assert message.startswith("This SecretGPT export is damaged: ")
    assert message.count("Field required") == 5 and "(and " not in message
    assert await store.list_conversations(A) == []


# --- Markdown ------------------------------------------------------------------------------------

async def test_markdown_shows_the_active_thread_readably(store: SqlConversationStore):
    conv_id = await rich_conversation(store)
    await store.select_alternative(conv_id, A, (await store.get(conv_id, A)).messages[1].id)
    md = await store.export_markdown(conv_id, A)
    print(md)

    assert md.startswith("# Tides & the moon\n")
    assert f"SecretGPT {secretgpt.__version__}" in md
    assert "## User\n\nWhy are there two tides a day?" in md
    assert ("## Assistant · `deepseek-r1:70b` · completed · answer 2 of 2\n\n"
            "<details><summary>Reasoning (thought for 4.0 s)</summary>\n\n"
            "Two bulges: near side and far side. Mention &lt;/details&gt; safely.\n\n</details>\n\n"
            "The moon's pull bulges the ocean on both sides of the Earth.") in md
    assert md.count("</details>") == md.count("<details>") == 1
    # Only the thread on screen: not the stopped first answer, nor the question that was edited away.
    assert "Because of the moon" not in md and "And the sun?" not in md
    assert "## User · version 2 of 2\n\nWhat about the sun?" in md
    assert "## Assistant · `deepseek-r1:70b` · interrupted — partial answer\n\nIt adds spring and neap tides" in md

    await store.select_alternative(conv_id, A, (await store.get(conv_id, A)).messages[1].sibling_ids[0])
    md = await store.export_markdown(conv_id, A)
    assert "stopped — partial answer · answer 1 of 2" in md
    assert "Reasoning (thought for 2.2 s)" in md  # 2.25 rounds to even

    error_md_conv = await store.import_json(A, _valid())
    assert "## Assistant · `m` · completed" in await store.export_markdown(error_md_conv[0], A)


async def test_markdown_names_the_error(store: SqlConversationStore):
    conv_id = await rich_conversation(store)
    thread = (await store.get(conv_id, A)).messages
    await store.select_alternative(conv_id, A, thread[2].sibling_ids[0])  # the question that errored
    md = await store.export_markdown(conv_id, A)
    assert "## Assistant · `deepseek-r1:70b` · error: The model server did not answer.\n\n_(no text)_" in md


async def test_import_accepts_children_listed_before_their_parents(store: SqlConversationStore):
    doc = _valid()
    doc["conversation"]["messages"].reverse()
    [conv_id] = await store.import_json(A, doc)
    got = await store.get(conv_id, A)
    assert [(m.role, m.content) for m in got.messages] == [("user", "hi"), ("assistant", "hello")]
    assert got.messages[1].parent_id == got.messages[0].id
