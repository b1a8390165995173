"""Attachments over the HTTP API, on both model paths (`AsyncOpenAI` and `ChatSecret`) to the
loopback model: what each file becomes in the request the model server receives."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from secretgpt.services.loopback_model import Reply
from tests.conftest import ApiServer, eventually
from tests.support.files import deeply_nested_pdf, docx_bytes, huge_object_pdf, pdf_bytes, png_bytes
from tests.support.scripted_model import ScriptedModel


async def upload(api: ApiServer, name: str, data: bytes, status: int = 201) -> dict:
    response = await api.client.post("/api/v1/files", files={"file": (name, data)})
    assert response.status_code == status, response.text
    return response.json()


async def ask(api: ApiServer, message: str, attachments: list[str], **body) -> dict:
    response = await api.client.post("/api/v1/chat", json={"message": message, "attachments": attachments, **body})
    assert response.status_code == 200, response.text
    return response.json()


def last_user_turn(model_server) -> dict:
    return [m for m in model_server.connections[-1].request["messages"] if m["role"] == "user"][-1]


def text_of(turn: dict) -> str:
    content = turn["content"]
    return content if isinstance(content, str) else "\n".join(p["text"] for p in content if p["type"] == "text")


@pytest.mark.parametrize(("name", "data", "expected", "pages"), [
    ("report.pdf", pdf_bytes("The quarterly figure is 4217.", "Second page says hello."), "quarterly figure is 4217", 2),
    ("notes.docx", docx_bytes("Meeting moved to Thursday.", table=[["room", "B12"]]), "room | B12", None),
    ("readme.md", "# Title\n\nMarkdown body with *emphasis* — ünïcode.\n".encode(), "*emphasis* — ünïcode", None),
], ids=["pdf", "docx", "markdown"])
async def test_a_documents_text_reaches_the_model_in_the_user_turn(api: ApiServer, script: ScriptedModel,
                                                                   model_server, name: str, data: bytes,
                                                                   expected: str, pages: int | None) -> None:
    script.reply = Reply.of("Read it.")
    listed = await upload(api, name, data)
    assert listed["name"] == name and listed["kind"] == "text" and listed["pages"] == pages
    assert listed["chars"] > 0 and listed["sha256"] == hashlib.sha256(data).hexdigest()
    answer = await ask(api, "What does it say?", [listed["file_id"]])
    sent = text_of(last_user_turn(model_server))
    assert sent.startswith("What does it say?\n\n--- Attached file: " + name)
    assert expected in sent and sent.rstrip().endswith(f"--- End of {name} ---")
    # Kept with the question: the conversation lists it.
    conversation = (await api.client.get(f"/api/v1/conversations/{answer['conversation_id']}")).json()
    question = conversation["messages"][0]
    assert question["content"] == "What does it say?"
    assert conversation["storage_bytes"] >= listed["chars"] + len("What does it say?")
    assert [a["file_id"] for a in question["attachments"]] == [listed["file_id"]]


async def test_an_image_reaches_the_model_in_its_protocols_shape(api: ApiServer, script: ScriptedModel,
                                                                 model_server, protocol: str) -> None:
    script.reply = Reply.of("A red rectangle.")
    api.hub.catalog.models[0].vision = True  # as discovery says of a vision model (or its name: qwen3-vl)
    image = png_bytes()
    listed = await upload(api, "photo.png", image)
    assert listed["kind"] == "image" and listed["chars"] is None
    await ask(api, "What is this?", [listed["file_id"]])
    turn = last_user_turn(model_server)
    encoded = base64.b64encode(image).decode()
    if protocol == "openai":
        assert turn["content"] == [{"type": "text", "text": "What is this?"},
                                   {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}}]
    else:
        # langchain-ollama joins a turn's text parts each after a newline.
        assert turn["content"] == "\nWhat is this?" and turn["images"] == [encoded]


async def test_a_model_that_cannot_see_gets_no_request(make_api, script: ScriptedModel, model_server) -> None:
    api = await make_api()
    api.hub.catalog.models[0].vision = False
    listed = await upload(api, "photo.png", png_bytes())
    before = len(model_server.connections)
    response = await api.client.post("/api/v1/chat", json={"message": "See?", "attachments": [listed["file_id"]]})
    assert response.status_code == 422 and response.json()["detail"]["kind"] == "cannot_see_images"
    assert "cannot see images" in response.json()["detail"]["message"]
    assert len(model_server.connections) == before
    assert (await api.client.get("/api/v1/conversations")).json() == []


async def test_a_fake_pdf_is_refused_with_a_sentence(api: ApiServer) -> None:
    refused = await upload(api, "invoice.pdf", b"MZ\x90\x00 this is an executable", status=422)
    assert refused["detail"]["kind"] == "unreadable_file"
    assert refused["detail"]["message"] == ("invoice.pdf is not a PDF: its bytes are binary data, without the "
                                            "%PDF- header.")
    refused = await upload(api, "cat.png", pdf_bytes("not an image"), status=422)
    assert "cat.png is not an image: its bytes are a PDF" in refused["detail"]["message"]


async def test_an_oversized_file_gets_413(make_api) -> None:
    api = await make_api(max_upload_mb=0.01)
    refused = await upload(api, "big.txt", b"x" * 20_000, status=413)
    assert refused["detail"]["kind"] == "too_large" and "MAX_UPLOAD_MB" in refused["detail"]["message"]


@pytest.mark.parametrize("hostile", [deeply_nested_pdf, huge_object_pdf], ids=["deep-nesting", "huge-object"])
async def test_a_hostile_pdf_is_bounded(api: ApiServer, hostile) -> None:
    started = time.monotonic()
    refused = await upload(api, "hostile.pdf", hostile(), status=422)
    assert time.monotonic() - started < 25
    assert refused["detail"]["message"].startswith("hostile.pdf ")
    # The server goes on serving.
    assert (await api.client.get("/api/v1/models")).status_code == 200


async def test_text_over_the_budget_says_what_was_cut(make_api, script: ScriptedModel, model_server) -> None:
    api = await make_api(max_attachment_chars=1_000)
    script.reply = Reply.of("Fine.")
    listed = await upload(api, "long.txt", ("abcdefghij" * 300).encode())
    await ask(api, "Summarise", [listed["file_id"]])
    sent = text_of(last_user_turn(model_server))
    assert "[Cut here: only the first 1,000 of its 3,000 characters are included" in sent
    assert "MAX_ATTACHMENT_CHARS" in sent and sent.count("abcdefghij") == 100


async def test_an_upload_goes_with_one_message_and_files_alone_make_a_question(api: ApiServer, script, model_server):
    script.reply = Reply.of("Got it.")
    listed = await upload(api, "data.csv", b"a,b\n1,2\n")
    answer = await ask(api, "", [listed["file_id"]])
    assert text_of(last_user_turn(model_server)).startswith("--- Attached file: data.csv")
    conversation = (await api.client.get(f"/api/v1/conversations/{answer['conversation_id']}")).json()
    assert conversation["title"] == "data.csv"
    again = await api.client.post("/api/v1/chat", json={"message": "again", "attachments": [listed["file_id"]]})
    assert again.status_code == 404 and "upload it first" in again.json()["detail"]["message"]
    # A later question still carries the earlier file (the model sees the whole thread).
    await ask(api, "And the second column?", [], conversation_id=answer["conversation_id"])
    await eventually(lambda: len(model_server.connections) >= 2)
    first = [m for m in model_server.connections[-1].request["messages"] if m["role"] == "user"][0]
    assert "a,b\n1,2" in text_of(first)
