"""The attachments table on SQLite and on a real PostgreSQL: an upload kept until a message takes
it (once), the listing with the thread, the text and bytes for the model, the export round trip,
storage counted, and deletion."""

from __future__ import annotations

import hashlib
import json

import pytest

from secretgpt.records import Attachment, ExtractedFile, FileNotFound
from secretgpt.storage import SqlConversationStore

OWNER = "owner-a"


def extracted(file_id: str, *, image: bytes | None = None, text: str | None = None) -> ExtractedFile:
    data = image if image is not None else (text or "").encode()
    attachment = Attachment(file_id=file_id, name=f"{file_id}.{'png' if image else 'md'}",
                            kind="image" if image else "text", media_type="image/png" if image else "text/plain",
                            size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                            chars=None if image else len(text or ""),
                            thumbnail="data:image/png;base64,AAAA" if image else None)
    return ExtractedFile(attachment=attachment, text=text, data=image)


async def test_files_go_with_one_message_and_come_back_with_it(make_store) -> None:
    store: SqlConversationStore = await make_store()
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # every byte value, NUL included
    await store.add_file(OWNER, extracted("a" * 32, text="Ünïcode text\x00 with a NUL"))
    await store.add_file(OWNER, extracted("b" * 32, image=image))
    with pytest.raises(FileNotFound):
        await store.unsent_files("someone-else", ["a" * 32])
    assert [a.name for a in await store.unsent_files(OWNER, ["b" * 32, "a" * 32])] == [f"{'b' * 32}.png",
                                                                                       f"{'a' * 32}.md"]
    conversation = await store.create(OWNER, "Files")
    message_id = await store.add_user_turn(conversation.id, OWNER, "See", attachments=["b" * 32, "a" * 32])
    with pytest.raises(FileNotFound):  # taken: an upload goes with one message
        await store.add_user_turn(conversation.id, OWNER, "Again", attachments=["a" * 32])
    thread = (await store.get(conversation.id, OWNER)).messages
    assert [a.file_id for a in thread[0].attachments] == ["b" * 32, "a" * 32]
    assert thread[0].attachments[0].thumbnail == "data:image/png;base64,AAAA"
    contents = await store.file_contents(conversation.id, OWNER, [message_id])
    assert contents["b" * 32].data == image
    assert contents["a" * 32].text in ("Ünïcode text\x00 with a NUL", "Ünïcode text\ufffd with a NUL")  # PostgreSQL
    assert await store.storage_bytes(conversation.id, OWNER) >= len(image) + len("See")
    exported = await store.export_json(conversation.id, OWNER)
    [copy_id] = await store.import_json(OWNER, json.dumps(exported))
    copy = await store.get(copy_id, OWNER)
    copied = await store.file_contents(copy_id, OWNER, [copy.messages[0].id])
    assert sorted(c.data or b"" for c in copied.values())[-1] == image
    await store.delete(conversation.id, OWNER)
    assert await store.storage_bytes(copy_id, OWNER) >= len(image)
    async with store.engine.connect() as conn:
        left = (await conn.exec_driver_sql("SELECT DISTINCT conversation_id FROM attachments")).scalars().all()
    assert left == [copy_id]


async def test_an_image_whose_bytes_do_not_match_its_hash_is_not_imported(make_store) -> None:
    from secretgpt.records import InvalidImport

    store: SqlConversationStore = await make_store()
    await store.add_file(OWNER, extracted("c" * 32, image=b"\x89PNG\r\n\x1a\nreal"))
    conversation = await store.create(OWNER, "Files")
    await store.add_user_turn(conversation.id, OWNER, "See", attachments=["c" * 32])
    exported = await store.export_json(conversation.id, OWNER)
    exported["conversation"]["messages"][0]["attachments"][0]["sha256"] = "0" * 64
    with pytest.raises(InvalidImport, match="do not match its sha256"):
        await store.import_json(OWNER, json.dumps(exported))


async def test_an_upload_never_sent_is_dropped_after_a_day(make_store) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from secretgpt.storage.attachment_rows import UNSENT_KEPT
    from secretgpt.storage.message_tree import utc_now
    from secretgpt.storage.schema import attachments

    store: SqlConversationStore = await make_store()
    await store.add_file("someone", extracted("d" * 32, text="forgotten"))
    async with store.engine.begin() as conn:
        await conn.execute(update(attachments).values(created_at=utc_now() - UNSENT_KEPT - timedelta(minutes=1)))
    await store.add_file(OWNER, extracted("e" * 32, text="fresh"))
    with pytest.raises(FileNotFound):
        await store.unsent_files("someone", ["d" * 32])
    assert [a.file_id for a in await store.unsent_files(OWNER, ["e" * 32])] == ["e" * 32]
