"""Odd text: a lone surrogate (a JSON `\\ud800` escape with no partner) becomes U+FFFD where text
enters the app — model deltas on both model paths, the model server's error words, what a user
sends — so the answer completes, its hash chain is made and it is stored."""

from __future__ import annotations

import asyncio

import pytest

from secretgpt.hub.chat_hub import ChatHub
from secretgpt.hub.stream import ActiveStream
from secretgpt.records import StreamStatus
from secretgpt.services.loopback_model import LoopbackModelServer, Reply, Step
from secretgpt.services.secret_ai import SecretAIService
from secretgpt.records import SurrogateMender, well_formed
from tests.conftest import OWNER
from tests.support.scripted_model import ScriptedModel
from tests.test_secret_ai_service import collect, text_of, think_of


async def ended(stream: ActiveStream) -> None:
    async with asyncio.timeout(15):
        async for _ in stream.follow(0):
            pass


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "whole"])
async def test_a_lone_surrogate_from_the_model_becomes_a_replacement_character(
        hub: ChatHub, script: ScriptedModel, model_server: LoopbackModelServer, streaming: bool) -> None:
    wire: list[bytes] = []
    model_server.written = wire.append
    script.reply = Reply(steps=[Step("chunk", thinking="why \ud800 not"), Step("chunk", content="Odd \udfff"),
                                Step("chunk", content=" text.")])
    stream = await hub.send("Say something odd", owner=OWNER, streaming=streaming)
    await ended(stream)
    if streaming:  # the loopback server wrote the escapes raw in its JSON, as any model server may
        assert b"\\ud800" in b"".join(wire) and b"\\udfff" in b"".join(wire)
    record = stream.record()
    assert record.status is StreamStatus.COMPLETED, record.error  # was "Internal error: UnicodeEncodeError"
    assert (record.think, record.text) == ("why \ufffd not", "Odd \ufffd text.")
    proof = await hub.proof(stream.conversation_id, stream.message_id, owner=OWNER)  # the chain took it too
    assert proof.proof.answer.text == "Odd \ufffd text." and proof.proof.chain.head
    stored = (await hub.conversation(stream.conversation_id, owner=OWNER)).messages[-1]
    assert (stored.think, stored.content, stored.status) == ("why \ufffd not", "Odd \ufffd text.",
                                                             StreamStatus.COMPLETED)
    proof = await hub.proof(stream.conversation_id, stored.id, owner=OWNER)
    assert proof is not None


async def test_a_pair_split_across_two_chunks_is_joined(service: SecretAIService, script: ScriptedModel) -> None:
    # A proxy that cuts text by UTF-16 units sends each half of 😀 as its own escape.
    script.reply = Reply(steps=[Step("chunk", thinking="a \ud83d"), Step("chunk", thinking="\ude00 b"),
                                Step("chunk", content="end \ud83d")])
    chunks, error = await collect(service)
    assert error is None
    assert (think_of(chunks), text_of(chunks)) == ("a \U0001f600 b", "end \ufffd")


async def test_the_model_servers_error_words_are_made_well_formed(hub: ChatHub, script: ScriptedModel) -> None:
    script.reply = Reply(steps=[Step("chunk", content="Partial"), Step("error", content="bad \ud800 thing")])
    stream = await hub.send("hi", owner=OWNER)
    await ended(stream)
    record = stream.record()
    assert record.status is StreamStatus.ERROR and "bad \ufffd thing" in (record.error or "")
    stored = (await hub.conversation(stream.conversation_id, owner=OWNER)).messages[-1]
    assert stored.content == "Partial" and "\ufffd" in stored.metadata["error"]


async def test_what_a_user_sends_is_made_well_formed(hub: ChatHub, script: ScriptedModel) -> None:
    # The page's websocket carries JSON from the browser, whose strings may hold a lone surrogate.
    stream = await hub.send("Hi \ud800", owner=OWNER, system="Be \udfff brief.")
    await ended(stream)
    assert stream.record().status is StreamStatus.COMPLETED
    sent = [m["content"] for m in script.requests[-1]["messages"]]
    assert sent == ["Be \ufffd brief.", "Hi \ufffd"]
    conversation = await hub.conversation(stream.conversation_id, owner=OWNER)
    assert conversation.title == "Hi \ufffd" and conversation.system == "Be \ufffd brief."
    assert conversation.messages[0].content == "Hi \ufffd"
    await hub.update_conversation(conversation.id, owner=OWNER, title="New \udc00", system="Now \ud800")
    conversation = await hub.conversation(stream.conversation_id, owner=OWNER)
    assert (conversation.title, conversation.system) == ("New \ufffd", "Now \ufffd")


def test_well_formed_text_is_left_as_it_is() -> None:
    text = "plain, ünïcödé ✓, 😀 and U+FFFD \ufffd itself"
    assert well_formed(text) is text
    mender = SurrogateMender()
    assert [mender.feed("a\ud83d"), mender.feed("b"), mender.flush()] == ["a", "\ufffdb", ""]
    assert [mender.feed("\udfff"), mender.feed("\ud800"), mender.flush()] == ["\ufffd", "", "\ufffd"]
