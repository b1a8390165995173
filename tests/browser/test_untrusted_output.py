"""Hostile model output in a real browser: no image loads by itself, "Load image" loads one.

Every image form sits in the answer and in the reasoning, each pointing at its own address on a
loopback "leak" server that records requests. The page must send it nothing: not while the answer
streams, not with the reasoning folded or open, not after a reload, not for an imported
conversation. A click on "Load image" makes exactly one request, from the app.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, Request, expect

from secretgpt.services.loopback_model import Reply
from secretgpt.storage.export import ExportedConversation, ExportedMessage, export_many

from tests.support.leak_server import LeakServer, image_forms
from .conftest import ScriptedModel

pytestmark = pytest.mark.asyncio(loop_scope="package")

SETTLE = 1.0  # seconds for a browser to fire requests for images it has just been given


@pytest.fixture(scope="module")
def leak() -> Iterator[LeakServer]:
    server = LeakServer().start()
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="package")
async def watched(page: Page, leak: LeakServer) -> AsyncIterator[list[str]]:
    """Every request the browser makes to the leak server's port (whatever the leak server saw)."""
    seen: list[str] = []

    def record(request: Request) -> None:
        if f":{leak.port}" in request.url:
            seen.append(request.url)

    page.context.on("request", record)
    leak.requests.clear()
    yield seen


async def ask(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.keyboard.press("Enter")


async def assert_nothing_fetched(leak: LeakServer, seen: list[str], when: str) -> None:
    await asyncio.sleep(SETTLE)
    assert leak.paths() == [] and seen == [], f"{when}: the browser fetched {seen or leak.paths()}"


async def open_reasoning(page: Page) -> None:
    think = page.locator(".sg-message .sg-think").last
    await think.locator(".q-expansion-item__container > .q-item").first.click()
    await expect(think.locator(".sg-image").first).to_be_visible()


async def test_no_image_form_loads_from_an_answer_or_its_reasoning(
        page: Page, model: ScriptedModel, leak: LeakServer, watched: list[str]) -> None:
    model.replies.append(Reply.of(image_forms(leak.origin, "answer"), image_forms(leak.origin, "think"),
                                  tokens_per_second=300))
    await ask(page, "Show me a chart")
    message = page.locator(".sg-message").last
    await expect(message.locator(".sg-status")).to_have_text("Completed", timeout=20_000)
    answer = message.locator(".sg-answer")
    await expect(answer.locator(".sg-image").first).to_be_visible()
    await assert_nothing_fetched(leak, watched, "answer shown, reasoning folded")
    # Placeholders show the alt text and the host; raw <img> is text.
    inline = answer.locator(".sg-image").filter(has_text="inline chart")
    await expect(inline).to_contain_text(f"127.0.0.1:{leak.port}")
    await expect(inline.get_by_role("button", name="Load image")).to_be_visible()
    await expect(answer).to_contain_text(f'<img src="{leak.origin}/leak/answer-raw-img">')
    for alt in ("reference chart", "relative chart", "table chart", "linked chart"):
        await expect(answer.locator(".sg-image").filter(has_text=alt)).to_have_count(1)
    assert await answer.locator("img").count() == 0
    await open_reasoning(page)
    await assert_nothing_fetched(leak, watched, "reasoning opened")

    await page.reload()
    message = page.locator(".sg-message").last
    await expect(message.locator(".sg-status")).to_have_text("Completed", timeout=15_000)
    await expect(message.locator(".sg-answer .sg-image").filter(has_text="late chart")).to_have_count(1)
    await open_reasoning(page)
    await assert_nothing_fetched(leak, watched, "after a reload")

    # One click: one request, made by the app (no cookie, no Referer), and the image shows in place.
    await inline_button(page, "answer-inline").click()
    loaded = message.locator(".sg-answer img.sg-loaded-image")
    await expect(loaded).to_have_count(1, timeout=15_000)
    assert (await loaded.get_attribute("src") or "").startswith("data:image/png;base64,")
    assert await loaded.evaluate("img => img.complete && img.naturalWidth") == 1
    assert leak.paths() == ["/leak/answer-inline?q=bank+PIN+4921"]
    headers = leak.requests[0].headers
    assert "cookie" not in headers and "referer" not in headers and "Chrome" not in headers.get("user-agent", "")
    assert watched == []  # the browser itself still fetched nothing
    await expect(message.locator(".sg-answer .sg-image").filter(has_text="table chart")).to_have_count(1)


def inline_button(page: Page, path: str):
    return page.locator(f".sg-message .sg-answer button[data-sg-image*='/leak/{path}']").last


async def test_a_failed_load_says_one_sentence(page: Page, model: ScriptedModel, leak: LeakServer,
                                              watched: list[str]) -> None:
    """Whatever the cause: a status per cause would let model text scan ports through the reader."""
    model.replies.append(Reply.of(f"Broken: ![missing chart]({leak.origin}/missing/chart.png)", tokens_per_second=300))
    await ask(page, "Show me a missing chart")
    message = page.locator(".sg-message").last
    await expect(message.locator(".sg-status")).to_have_text("Completed", timeout=20_000)
    await message.get_by_role("button", name="Load image").click()
    await expect(message.locator(".sg-image-note")).to_have_text("Could not load this image.", timeout=15_000)
    assert leak.paths() == ["/missing/chart.png"] and watched == []
    assert await message.locator(".sg-answer img").count() == 0


def hostile_export(origin: str, title: str) -> dict:
    """One conversation: an answer with every image form (and in its reasoning), then one nested
    1,000 deep."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ids = [uuid.uuid4().hex for _ in range(4)]
    deep = ">" * 1000 + " deep quote end\n\n" + "- " * 1000 + "level999\n\n" + "1. " * 1000 + "DEEPEND"

    def message(i: int, role: str, content: str, think: str = "") -> ExportedMessage:
        at = now + timedelta(seconds=i)
        return ExportedMessage(id=ids[i], parent_id=ids[i - 1] if i else None, role=role, content=content,
                               think=think, created_at=at, updated_at=at,
                               status="completed" if role == "assistant" else None)

    messages = [message(0, "user", title),
                message(1, "assistant", image_forms(origin, "import"), image_forms(origin, "import-think")),
                message(2, "user", "And nested?"),
                message(3, "assistant", deep)]
    conversation = ExportedConversation(id=uuid.uuid4().hex, title=title, created_at=now,
                                        updated_at=now + timedelta(seconds=3), current_leaf_id=ids[3],
                                        messages=messages)
    return export_many([conversation])


async def test_an_imported_conversation_loads_nothing_and_deep_nesting_shows_as_text(
        page: Page, leak: LeakServer, watched: list[str], tmp_path: Path) -> None:
    title = "Imported hostile chat"
    export = tmp_path / "hostile.json"
    export.write_text(json.dumps(hostile_export(leak.origin, title)))
    await page.get_by_role("button", name="Import").click()
    chooser = page.locator(".q-dialog input[type=file]")
    await chooser.wait_for(state="attached", timeout=10_000)
    await chooser.set_input_files(str(export))
    # The dialog shows what the file holds; nothing is imported before it is confirmed.
    dialog = page.locator(".q-dialog")
    await expect(dialog).to_contain_text(title)
    await dialog.get_by_role("button", name="Import", exact=True).click()
    item = page.locator(".sg-conversation").filter(has_text=title)
    await expect(item).to_have_count(1, timeout=15_000)
    await item.click()
    images, nested = page.locator(".sg-message").first, page.locator(".sg-message").last
    await expect(nested.locator(".sg-answer")).to_contain_text("DEEPEND", timeout=15_000)
    await expect(nested.locator(".sg-answer")).to_contain_text("level999")
    await expect(nested.locator(".sg-answer pre.sg-raw")).to_have_count(1)
    await expect(images.locator(".sg-answer .sg-image").filter(has_text="inline chart")).to_have_count(1)
    await images.locator(".sg-think .q-expansion-item__container > .q-item").first.click()
    await expect(images.locator(".sg-think .sg-image").first).to_be_visible()
    await assert_nothing_fetched(leak, watched, "imported conversation")
    await page.reload()
    await expect(page.locator(".sg-message").last.locator(".sg-answer")).to_contain_text("DEEPEND", timeout=15_000)
    await expect(page.locator(".sg-conversation").filter(has_text=title)).to_have_count(1)
    await assert_nothing_fetched(leak, watched, "imported conversation after a reload")
