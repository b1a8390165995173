"""The app against an OpenAI-only host (Secret AI today), in a real browser: reasoning streams into
its block, Pause/Resume/Stop act on the connection, errors read plainly, conversation settings
reach the model."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Page, expect

from secretgpt.services.loopback_model import Reply, Step

from .conftest import ScriptedModel

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def ask(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.keyboard.press("Enter")


async def test_reasoning_answer_pause_resume_and_stop_on_an_openai_host(page: Page, model: ScriptedModel) -> None:
    reasoning = "Weighing the question step by step. " * 6
    words = " ".join(f"word{i}" for i in range(400))
    # vLLM's reasoning parser: `delta.reasoning_content`, then the answer in `delta.content`.
    model.replies.append(Reply.of(words, reasoning, tokens_per_second=40))
    seen = len(model.server.connections)
    await ask(page, "Think, then count slowly")
    message = page.locator(".sg-message").last
    think = message.locator(".sg-think")
    await expect(think).to_contain_text("Thinking", timeout=10_000)
    await expect(think).to_contain_text("Weighing the question", timeout=10_000)
    answer = message.locator(".sg-answer")
    await expect(answer).to_contain_text("word5", timeout=15_000)
    assert "Weighing" not in await answer.inner_text()

    conn = model.server.connections[seen]
    assert conn.protocol == "openai" and conn.request["stream"] is True
    assert conn.request["stream_options"] == {"include_usage": True}
    # Nothing of Ollama's API is used; `auto` only asked /api/version to tell an Ollama host apart.
    assert [line for line in model.server.requests if "/api/" in line] == ["GET /api/version"], model.server.requests

    await page.get_by_role("button", name="Pause").click()
    await expect(page.get_by_role("button", name="Resume")).to_be_visible()
    frozen = await answer.inner_text()
    sent_at_pause = conn.chunks_sent
    await asyncio.sleep(1.0)
    assert await answer.inner_text() == frozen
    assert conn.chunks_sent > sent_at_pause, "the model keeps writing while the page is paused"
    await page.get_by_role("button", name="Resume").click()
    await expect(answer).to_contain_text("word80", timeout=10_000)

    stopped_at = time.monotonic()
    await page.get_by_role("button", name="Stop").click()
    await asyncio.wait_for(conn.closed.wait(), 3)
    assert conn.closed_by_client_at is not None and conn.closed_by_client_at - stopped_at < 1.0
    assert not conn.finished and conn.chunks_sent < 400
    await expect(message.locator(".sg-status")).to_have_text("Stopped", timeout=5_000)
    await expect(think).to_contain_text("Thought for")


@pytest.mark.parametrize(("reply", "words"), [
    (Reply.of("Half an answer").then(Step("error", content="CUDA out of memory")),
     "The model stopped with an error: CUDA out of memory"),
    (Reply(status=429), "is busy (HTTP 429). Try again shortly."),
], ids=["error-in-stream", "http-429"])
async def test_errors_from_an_openai_host_read_plainly(page: Page, model: ScriptedModel, reply: Reply,
                                                       words: str) -> None:
    model.replies.append(reply)
    seen = len(model.server.connections)
    await ask(page, "Try something that fails")
    message = page.locator(".sg-message").last
    await expect(message.locator(".sg-status")).to_have_text("Error", timeout=15_000)
    await expect(message.locator(".sg-error")).to_contain_text(words)
    await expect(message.get_by_role("button", name="Retry")).to_be_visible()
    await expect(page.get_by_role("button", name="Send")).to_be_enabled()
    # Neither is retried without streaming: text had arrived, or the server is busy.
    assert len(model.server.connections) == seen + 1


async def test_conversation_settings_reach_the_model(page: Page, model: ScriptedModel) -> None:
    await page.get_by_role("button", name="Conversation settings").click()
    dialog = page.locator(".sg-conversation-settings")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("System prompt").fill("Answer like a pirate.")
    await dialog.get_by_label("Temperature").fill("3")
    await dialog.get_by_label("Max tokens").fill("64")
    await dialog.get_by_role("button", name="Save").click()
    # Out of range: the same words as the API, and the dialog stays open.
    await expect(dialog).to_contain_text("temperature must be a number from 0 to 2")
    await dialog.get_by_label("Temperature").fill("0.3")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()

    model.replies.append(Reply.of("Arr, hello.", "Pirate voice."))
    seen = len(model.server.connections)
    await ask(page, "Say hello")
    await expect(page.locator(".sg-message").last.locator(".sg-status")).to_have_text("Completed", timeout=15_000)
    request = model.server.connections[seen].request
    assert request["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
    assert (request["temperature"], request["max_tokens"]) == (0.3, 64)
    assert "top_p" not in request and "seed" not in request  # unset: the model's own defaults
