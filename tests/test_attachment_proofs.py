"""Attachments are kept with the message and covered by the answer's proof (both model paths):
the turn's text as sent, each file by its SHA-256; export and import keep them; deleting the
conversation removes them; they count toward its storage."""

from __future__ import annotations

import hashlib
import json

from secretgpt.hub import EXIT_TAMPERED, ChatHub
from secretgpt.services.loopback_model import Reply
from tests.support.files import pdf_bytes, png_bytes
from tests.support.scripted_model import ScriptedModel

OWNER = "tester"


async def ask_with_files(hub: ChatHub, files: dict[str, bytes], message: str = "Look at these") -> tuple[str, str]:
    ids = [(await hub.add_file(name, data, owner=OWNER)).file_id for name, data in files.items()]
    stream = await hub.send(message, owner=OWNER, attachments=ids)
    await stream.wait()
    return stream.conversation_id, stream.message_id or ""


async def test_the_proof_names_each_file_by_hash_and_holds_the_text_sent(hub: ChatHub, script: ScriptedModel) -> None:
    script.reply = Reply.of("Seen both.")
    hub.catalog.models[0].vision = True
    pdf, png = pdf_bytes("Secret plan: 4217."), png_bytes()
    conversation_id, answer_id = await ask_with_files(hub, {"plan.pdf": pdf, "chart.png": png})
    signed = await hub.proof(conversation_id, answer_id, owner=OWNER)
    assert signed.proof.format == "secretgpt-proof/3"
    question = signed.proof.turns[-1]
    assert "--- Attached file: plan.pdf (PDF, 1 page) ---\nSecret plan: 4217." in question.content
    assert [(a.name, a.kind, a.sha256) for a in question.attachments] == [
        ("plan.pdf", "text", hashlib.sha256(pdf).hexdigest()), ("chart.png", "image", hashlib.sha256(png).hexdigest())]
    # Image bytes are not copied into the proof: only their hash.
    assert "base64" not in signed.to_json() and len(signed.to_json()) < 20_000
    report = await hub.attestation.verify(signed.to_json().encode())
    assert report.exit_code != EXIT_TAMPERED, report
    assert any(line.name == "attachments" and "2 files" in line.detail for line in report.lines)
    # Tampering with a file's hash breaks the signature.
    tampered = json.loads(signed.to_json())
    tampered["proof"]["turns"][-1]["attachments"][1]["sha256"] = "0" * 64
    assert (await hub.attestation.verify(json.dumps(tampered).encode())).exit_code == EXIT_TAMPERED


async def test_a_proof_without_files_keeps_the_format_older_verifiers_read(hub: ChatHub, script) -> None:
    script.reply = Reply.of("Plain.")
    stream = await hub.send("No files", owner=OWNER)
    await stream.wait()
    signed = await hub.proof(stream.conversation_id, stream.message_id or "", owner=OWNER)
    assert signed.proof.format == "secretgpt-proof/2"
    assert all("attachments" not in turn for turn in json.loads(signed.to_json())["proof"]["turns"])


async def test_export_and_import_keep_files_and_delete_removes_them(hub: ChatHub, script: ScriptedModel,
                                                                   store) -> None:
    script.reply = Reply.of("Noted.")
    hub.catalog.models[0].vision = True
    png = png_bytes(200, 100)
    conversation_id, _ = await ask_with_files(hub, {"notes.md": b"# Notes\nkeep me\n", "pic.png": png})
    stored = await hub.storage_bytes(conversation_id, owner=OWNER)
    assert stored > len(png) + len("# Notes\nkeep me\n")
    exported = await hub.export_json(conversation_id, owner=OWNER)
    [copy_id] = await hub.import_json(json.dumps(exported), owner=OWNER)
    copy = await hub.conversation(copy_id, owner=OWNER)
    assert [(a.name, a.size) for a in copy.messages[0].attachments] == [("notes.md", 16), ("pic.png", len(png))]
    assert copy.messages[0].attachments[1].thumbnail.startswith("data:image/")
    # The copy is asked again with its files, as the original was.
    stream = await hub.send("And now?", owner=OWNER, conversation_id=copy_id)
    await stream.wait()
    first = next(m for m in script.requests[-1]["messages"] if m["role"] == "user")
    assert "keep me" in str(first["content"]) and (first.get("images") or isinstance(first["content"], list))
    assert await hub.storage_bytes(copy_id, owner=OWNER) >= stored
    await hub.delete(conversation_id, owner=OWNER)
    async with store.engine.connect() as conn:
        left = (await conn.exec_driver_sql("SELECT conversation_id FROM attachments")).scalars().all()
    assert set(left) == {copy_id}


async def test_an_edited_question_keeps_its_files(hub: ChatHub, script: ScriptedModel) -> None:
    script.reply = Reply.of("Fine.")
    conversation_id, _ = await ask_with_files(hub, {"facts.txt": b"The sky is green here."}, "Is it true?")
    question = (await hub.conversation(conversation_id, owner=OWNER)).messages[0]
    stream = await hub.send("Is it really true?", owner=OWNER, conversation_id=conversation_id, edit=question.id)
    await stream.wait()
    sent = script.requests[-1]["messages"][-1]
    assert sent["content"].startswith("Is it really true?\n\n--- Attached file: facts.txt")
    edited = (await hub.conversation(conversation_id, owner=OWNER)).messages[0]
    assert edited.id != question.id and [a.name for a in edited.attachments] == ["facts.txt"]


async def test_under_require_nothing_of_a_file_is_sent_to_an_unverified_host(make_hub, script: ScriptedModel) -> None:
    from secretgpt.hub import HostNotVerified

    hub = make_hub(attestation_policy="require")
    listed = await hub.add_file("secret.md", b"# Merger plan\nconfidential", owner=OWNER)
    before = len(script.requests)
    try:
        await hub.send("Summarise", owner=OWNER, attachments=[listed.file_id])
    except HostNotVerified:
        pass
    else:
        raise AssertionError("an unverified host was sent the prompt")
    assert len(script.requests) == before
    # The upload is still there for the person to send, once they choose to.
    stream = await hub.send("Summarise", owner=OWNER, attachments=[listed.file_id], allow_unverified=True)
    await stream.wait()
    assert "confidential" in str(script.requests[-1]["messages"][-1]["content"])


async def test_the_markdown_export_names_the_files(hub: ChatHub, script: ScriptedModel) -> None:
    script.reply = Reply.of("Ok.")
    name = "![t](tracker.example.png) plan.pdf"  # a file's name is anyone's text (no folders: cut at "/")
    conversation_id, _ = await ask_with_files(hub, {name: pdf_bytes("Numbers.")}, "See file")
    markdown = await hub.export_markdown(conversation_id, owner=OWNER)
    line = next(line for line in markdown.splitlines() if line.startswith("- Attached: "))
    assert line.endswith("(599 B, 1 page, 8 characters)") and "tracker.example" in line
    assert "![" not in markdown  # inert: nothing in it loads by itself
    assert "Numbers." not in markdown  # the text is in the JSON export
