"""The Markdown export after an answer stopped inside a code block: the fence it left open is closed
at the end of that message, so the rest of the conversation renders as text, not code. Checked by
rendering the export as a reader's Markdown viewer would (markdown-it-py, CommonMark)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from secretgpt.records import StreamRecord, StreamStatus
from secretgpt.storage.markdown_export import closed_fences
from secretgpt.storage.sql import SqlConversationStore, database_url

OWNER = "owner"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)

# How answers get cut off inside code: each fence kind, a longer fence holding a shorter one, an
# indented one, and in the reasoning instead of the text.
CUT_OFF = {
    "backticks": ("```python\nprint('hi')\nfor i in range(3):", ""),
    "tildes": ("Here:\n\n~~~\nsome output", ""),
    "a long fence around a short one": ("````markdown\nA sample:\n```python\nx = 1\n```\nand more", ""),
    "an indented fence": ("Steps:\n\n   ```sh\n   make all", ""),
    "in the reasoning": ("The answer, after all.", "Let me sketch it:\n~~~~~\nhalf a sketch"),
}


@pytest.fixture
async def store(tmp_path: Path):
    opened = await SqlConversationStore.open(database_url(tmp_path))
    yield opened
    await opened.close()


def record(conversation_id: str, stream_id: str, text: str, status: StreamStatus, think: str = "") -> StreamRecord:
    return StreamRecord(stream_id=stream_id, conversation_id=conversation_id, owner=OWNER, model="m", status=status,
                        text=text, think=think, started_at=T0)


def code_and_headings(markdown: str) -> tuple[str, list[str]]:
    """Everything the document renders as code, and its headings' text."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    code = "".join(t.content for t in tokens if t.type in ("fence", "code_block"))
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    return code, headings


def inline_text(tokens: list[Token]) -> str:
    return " ".join(t.content for t in tokens if t.type == "inline")


@pytest.mark.parametrize(("text", "think"), CUT_OFF.values(), ids=CUT_OFF.keys())
async def test_turns_after_an_answer_stopped_in_code_render_outside_code(
        store: SqlConversationStore, text: str, think: str) -> None:
    conversation = await store.create(OWNER, "Code, cut off")
    await store.add_user_turn(conversation.id, OWNER, "Show me some code")
    await store.save_answer(record(conversation.id, "s1", text, StreamStatus.STOPPED, think))
    await store.add_user_turn(conversation.id, OWNER, "Thanks, and what comes next?")
    await store.save_answer(record(conversation.id, "s2", "The **next** answer, as plain text.",
                                   StreamStatus.COMPLETED))
    markdown = await store.export_markdown(conversation.id, OWNER)

    code, headings = code_and_headings(markdown)
    assert headings == ["Code, cut off", "User", "Assistant · `m` · stopped — partial answer", "User",
                        "Assistant · `m` · completed"]
    assert "Thanks, and what comes next?" not in code and "next" not in code
    tokens = MarkdownIt("commonmark").parse(markdown)
    assert "Thanks, and what comes next?" in inline_text(tokens)
    assert "The **next** answer, as plain text." in inline_text(tokens)
    if think:
        assert "half a sketch" in code and "</details>" not in code  # the collapsible block still ends
    else:
        assert text.splitlines()[-1].strip() in code  # the cut-off code is still code


def test_text_whose_fences_are_closed_is_left_alone() -> None:
    for text in ("```python\nx = 1\n```", "~~~\na\n~~~~", "no code at all", "``` inline `code` ``` stays text",
                 "    ```\n    indented code, not a fence"):
        assert closed_fences(text) == text


def test_the_closing_fence_matches_the_opening_one() -> None:
    assert closed_fences("````\n```\ninner") == "````\n```\ninner\n````"
    assert closed_fences("~~~\n```\nstill code") == "~~~\n```\nstill code\n~~~"
    assert closed_fences("```\n``` not a close (text after it)") == "```\n``` not a close (text after it)\n```"
