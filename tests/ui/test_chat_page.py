"""The chat page's logic with NiceGUI's simulated user (no browser)."""

from __future__ import annotations

import asyncio

import pytest
from nicegui import ui
from nicegui.testing import User

from secretgpt.services.loopback_model import Reply, Step

from .conftest import ScriptedModel


def page_text(user: User, marker: str) -> str:
    """All Markdown sources inside the elements marked `marker`."""
    texts = []
    try:
        roots = user.find(marker=marker).elements
    except AssertionError:  # not on the page (yet)
        return ""
    for root in roots:
        for element in root.descendants():
            if isinstance(element, ui.markdown) and element.content:
                texts.append(element.content)
    return "".join(texts)


async def send(user: User, text: str) -> None:
    user.find("Message").type(text)
    user.find("Send").click()


async def wait_for(condition, timeout: float = 10.0, describe=None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time" + (f": {describe()}" if describe else ""))
        await asyncio.sleep(0.05)


async def test_answer_streams_with_reasoning_apart(user: User, model: ScriptedModel) -> None:
    model.replies.append(Reply.of("The answer is **42**.\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n",
                                  "First I weigh the options.", tokens_per_second=25))
    await user.open("/")
    await send(user, "What is the answer?")
    await user.should_see("What is the answer?")
    await user.should_see("Completed", retries=100)
    answer = page_text(user, "answer")
    think = page_text(user, "think")
    assert "The answer is **42**." in answer and "| 1 | 2 |" in answer
    assert "weigh the options" in think
    assert "weigh" not in answer and "42" not in think
    await user.should_see("Thought for")
    assert model.requests[0]["stream"] is True


async def test_enter_sends_and_input_clears(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    user.find("Message").type("Hi via Enter").trigger("keydown.enter.exact.prevent")
    await user.should_see("Completed", retries=100)
    assert user.find("Message").elements.pop().value == ""


async def test_stop_keeps_partial_answer_and_closes_model_connection(user: User, model: ScriptedModel) -> None:
    model.replies.append(Reply.of("partial words arrive slowly " * 50, tokens_per_second=20))
    await user.open("/")
    await send(user, "Tell me a long story")
    await wait_for(lambda: "partial words" in page_text(user, "answer"))
    user.find("Stop").click()
    await user.should_see("Stopped — the answer above is partial.", retries=100)
    conn = model.server.connections[0]
    await asyncio.wait_for(conn.closed.wait(), 2)
    assert conn.closed_by_client_at is not None and not conn.finished
    assert "partial words" in page_text(user, "answer")
    assert user.find("Send").elements.pop().enabled


async def test_pause_freezes_display_and_resume_catches_up(user: User, model: ScriptedModel) -> None:
    reply = Reply.of(" ".join(f"w{i}" for i in range(120)), tokens_per_second=60)
    model.replies.append(reply)
    await user.open("/")
    await send(user, "Count for me")
    await wait_for(lambda: "w3" in page_text(user, "answer"))
    user.find("Pause").click()
    await user.should_see("Resume")
    frozen = page_text(user, "answer")
    await asyncio.sleep(0.6)  # the model keeps generating meanwhile
    assert page_text(user, "answer") == frozen
    assert model.server.connections[0].chunks_sent > len(frozen.split())
    user.find("Resume").click()
    await user.should_see("Completed", retries=100)
    assert page_text(user, "answer") == reply.text


async def test_streaming_off_uses_the_non_streaming_call(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    user.find("Settings").click()
    user.find("Streaming").click()
    await send(user, "No streaming please")
    await user.should_see("Completed", retries=100)
    assert model.requests[-1]["stream"] is False
    assert "A plain answer." in page_text(user, "answer")


async def test_error_is_shown_in_the_message_and_retry_answers(user: User, model: ScriptedModel) -> None:
    model.replies.append(Reply.of("Half an ans", tokens_per_second=100).then(Step("drop")))
    await user.open("/")
    await send(user, "Will this break?")
    await user.should_see("dropped mid-answer", retries=100)
    assert "Half an ans" in page_text(user, "answer")
    user.find("Retry").click()
    await user.should_see("Completed", retries=100)
    # The retry asked the same question again, without a duplicate user message.
    assert [m["content"] for m in model.requests[-1]["messages"] if m["role"] == "user"] == ["Will this break?"]


def marked(user: User, marker: str) -> int:
    try:
        return len(user.find(marker=marker).elements)
    except AssertionError:  # none on the page
        return 0


@pytest.fixture
def openai_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before `user` starts the app. (Ollama's client logs a failed request as an ERROR, which the
    # user fixture takes for a failure of the page.)
    monkeypatch.setenv("SECRET_AI_PROTOCOL", "openai")


async def test_a_failed_empty_answer_offers_retry_only_and_no_proof(openai_host: None, user: User,
                                                                    model: ScriptedModel) -> None:
    # Streaming fails before the first token, and so does the one retry without streaming.
    model.replies.extend([Reply(status=500, error_message="model runner crashed")] * 2)
    await user.open("/")
    await send(user, "Will this fail?")
    await user.should_see("model runner crashed", retries=100)
    await wait_for(lambda: marked(user, "copy") == 2)  # the answer's buttons are there (it is stored)
    assert (marked(user, "retry"), marked(user, "regenerate"), marked(user, "download-proof")) == (1, 0, 0)
    user.find(marker="retry").click()
    await user.should_see("Completed", retries=100)
    await wait_for(lambda: marked(user, "download-proof") == 1)  # the new answer: a proof, and Regenerate
    assert (marked(user, "retry"), marked(user, "regenerate")) == (0, 1)


async def test_empty_and_oversized_messages_are_refused_and_kept(user: User, model: ScriptedModel,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    await user.open("/")
    user.find("Send").click()
    await user.should_see("The message is empty")
    huge = "x" * 100_001
    user.find("Message").type(huge)
    user.find("Send").click()
    await user.should_see("the limit is 100,000")
    assert user.find("Message").elements.pop().value == huge
    assert model.requests == []


@pytest.fixture
def raised_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "200000")  # before `user` starts the app


async def test_a_limit_past_what_the_page_carries_is_said_so(raised_limit: None, user: User,
                                                             model: ScriptedModel) -> None:
    """The page's websocket carries a message of at most 140,000 characters (whatever they are):
    longer ones, though under a raised MAX_MESSAGE_CHARS, are for the HTTP API."""
    await user.open("/")
    user.find("Message").type("x" * 140_001)
    user.find("Send").click()
    await user.should_see("The message is 140,001 characters long; the page sends at most 140,000 characters "
                          "at once (the HTTP API takes up to 200,000).")
    assert model.requests == []
    user.find("Message").clear().type("x" * 140_000)
    user.find("Send").click()
    await user.should_see("Completed", retries=100)
    assert len(model.requests[-1]["messages"][-1]["content"]) == 140_000


async def test_second_message_sends_the_conversation(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await send(user, "First question")
    await user.should_see("Completed", retries=100)
    await send(user, "Second question")
    await wait_for(lambda: len(model.requests) == 2 and model.server.connections[1].finished)
    roles = [(m["role"], m["content"][:15]) for m in model.requests[1]["messages"]]
    assert roles == [("user", "First question"), ("assistant", "Hello **there**"), ("user", "Second question")]


async def test_reload_shows_the_conversation_again(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await send(user, "Remember me")
    await user.should_see("Completed", retries=100)
    await user.open("/")
    await user.should_see("Remember me")
    assert "A plain answer." in page_text(user, "answer")
