"""Temporary chats through the hub, on both model protocols: answered like any conversation
(follow-ups, regenerate, edit, continue, alternatives, Stop, proofs), but the store never sees
them — not in the database, not in the list, not in exports — and forgotten when the page goes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from secretgpt.hub.chat_hub import ChatHub
from secretgpt.hub.errors import BadMessage
from secretgpt.hub.temporary import TemporaryConversations
from secretgpt.records import ConversationNotFound, StreamStatus
from secretgpt.services.loopback_model import Reply
from secretgpt.storage.schema import conversations as C
from secretgpt.storage.schema import messages as M
from secretgpt.storage.sql import SqlConversationStore
from tests.conftest import OWNER
from tests.support.scripted_model import ScriptedModel


async def rows_in(store: SqlConversationStore) -> tuple[int, int]:
    async with store.engine.connect() as conn:
        return ((await conn.execute(select(func.count()).select_from(C))).scalar_one(),
                (await conn.execute(select(func.count()).select_from(M))).scalar_one())


async def test_a_temporary_chat_is_answered_and_never_stored(hub: ChatHub, store: SqlConversationStore,
                                                             script: ScriptedModel) -> None:
    script.replies.extend([Reply.of("First answer."), Reply.of("Second answer."), Reply.of("Regenerated.")])
    stream = await hub.send("A private question", owner=OWNER, temporary=True)
    first = await stream.wait()
    assert first.status is StreamStatus.COMPLETED and first.text == "First answer."
    conversation_id = stream.conversation_id

    follow = await hub.send("And then?", owner=OWNER, conversation_id=conversation_id)  # temporary too
    await follow.wait()
    conversation = await hub.conversation(conversation_id, owner=OWNER)
    assert conversation.temporary
    assert [m.content for m in conversation.messages] == ["A private question", "First answer.", "And then?",
                                                          "Second answer."]
    assert conversation.messages[1].metadata["model"] == first.model

    again = await hub.send("", owner=OWNER, conversation_id=conversation_id, regenerate=conversation.messages[3].id)
    await again.wait()
    regenerated = await hub.conversation(conversation_id, owner=OWNER)
    assert regenerated.messages[3].content == "Regenerated." and regenerated.messages[3].sibling_ids == [
        conversation.messages[3].id, regenerated.messages[3].id]
    back = await hub.select_alternative(conversation_id, conversation.messages[3].id, owner=OWNER)
    assert back.messages[3].content == "Second answer."

    proof = await hub.proof(conversation_id, conversation.messages[1].id, owner=OWNER)  # its proof, from memory
    assert proof is not None

    assert await rows_in(store) == (0, 0)
    assert await hub.list_conversations(owner=OWNER) == []
    assert await hub.list_conversations(owner=OWNER, search="private") == []
    with pytest.raises(BadMessage, match="temporary"):
        await hub.export_json(conversation_id, owner=OWNER)
    with pytest.raises(BadMessage, match="temporary"):
        await hub.export_markdown(conversation_id, owner=OWNER)
    assert (await hub.export_all(owner=OWNER))["conversations"] == []

    # Someone else cannot see it.
    with pytest.raises(ConversationNotFound):
        await hub.conversation(conversation_id, owner="someone-else")


async def test_a_stored_conversation_cannot_turn_temporary(hub: ChatHub, script: ScriptedModel) -> None:
    script.reply = Reply.of("Kept.")
    stored = await hub.send("Keep this", owner=OWNER)
    await stored.wait()
    with pytest.raises(BadMessage, match="cannot become temporary"):
        await hub.send("now forget it", owner=OWNER, conversation_id=stored.conversation_id, temporary=True)


async def test_forgetting_a_temporary_chat_stops_its_answer_and_drops_it(hub: ChatHub, store: SqlConversationStore,
                                                                         script: ScriptedModel) -> None:
    script.reply = Reply.of(" ".join(f"w{i}" for i in range(2000)), tokens_per_second=100)
    stream = await hub.send("Long one", owner=OWNER, temporary=True)
    async for _ in stream.follow(0):
        break  # it is streaming
    await hub.forget_temporary(stream.conversation_id, owner=OWNER)
    record = await stream.wait()
    assert record.status is StreamStatus.STOPPED
    with pytest.raises(ConversationNotFound):
        await hub.conversation(stream.conversation_id, owner=OWNER)
    assert await hub.active_streams(owner=OWNER) == []
    assert await rows_in(store) == (0, 0)
    await hub.forget_temporary("no-such-chat", owner=OWNER)  # nothing to do, no error


async def test_idle_temporary_chats_are_forgotten() -> None:
    chats = TemporaryConversations(idle_for=0.0, most=2)
    first = await chats.create(OWNER, "one")
    assert chats.holds(first.id)
    second = await chats.create(OWNER, "two")  # idle for longer than 0 s: the first goes
    assert not chats.holds(first.id) and chats.holds(second.id)
    assert len(chats) == 1


async def test_the_api_takes_temporary_and_refuses_it_for_a_stored_conversation(api, script: ScriptedModel) -> None:
    script.reply = Reply.of("Fine.")
    stored = await api.client.post("/api/v1/chat", json={"message": "kept"})
    assert stored.status_code == 200, stored.text
    refused = await api.client.post("/api/v1/chat", json={"message": "now forget", "temporary": True,
                                                           "conversation_id": stored.json()["conversation_id"]})
    assert refused.status_code == 422 and "cannot become temporary" in refused.json()["detail"]["message"]
    temporary = await api.client.post("/api/v1/chat", json={"message": "forget me", "temporary": True})
    assert temporary.status_code == 200, temporary.text
    conversation_id = temporary.json()["conversation_id"]
    assert (await api.client.get(f"/api/v1/conversations/{conversation_id}")).json()["temporary"] is True
    assert [c["id"] for c in (await api.client.get("/api/v1/conversations")).json()] == [
        stored.json()["conversation_id"]]
    markdown = await api.client.get(f"/api/v1/conversations/{conversation_id}/export", params={"format": "markdown"})
    assert markdown.status_code == 422
