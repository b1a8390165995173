"""Attachments on the page: the tray's chips (name, size, pages or characters), removing one before
sending, the files shown with the message (an image as its thumbnail), and a model that cannot
see images refusing one before anything is sent."""

from __future__ import annotations

import pytest
from nicegui import ElementFilter, ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction

from secretgpt.services.loopback_model import Reply
from tests.support.files import pdf_bytes, png_bytes

from .conftest import ScriptedModel
from .test_chat_page import send, wait_for


async def attach(user: User, name: str, data: bytes, kind: str = "application/octet-stream") -> None:
    """What the paperclip's file chooser (or a drop, or a paste) ends with: the upload arrives."""
    [upload] = user.find(kind=ui.upload, marker="attachment-upload").elements
    await upload.handle_uploads([SmallFileUpload(name, kind, data)])


def chips(user: User, where: str = "attachment-tray") -> list[str]:
    """Each chip's words (name, then size and pages or characters), in the tray or in messages."""
    with user:
        found = sorted(ElementFilter(marker="attachment-chip").within(marker=where), key=lambda c: c.id)
        return [" ".join(label.text for label in c.descendants() if isinstance(label, ui.label)) for c in found]


def remove_chip(user: User, name: str) -> None:
    with user:
        chip = next(c for c in ElementFilter(marker="attachment-chip").within(marker="attachment-tray")
                    if c.attachment.name == name)
        buttons = set(ElementFilter(marker="attachment-remove").within(instance=chip))
    UserInteraction(user, buttons, None).click()


async def test_files_show_as_chips_go_with_the_message_and_reach_the_model(user: User, model: ScriptedModel) -> None:
    model.reply = Reply.of("I read it.")
    await user.open("/")
    await attach(user, "report.pdf", pdf_bytes("Quarterly figure 4217.", "Page two."))
    await attach(user, "extra.md", b"# Notes\nremove me\n")
    await wait_for(lambda: len(chips(user)) == 2, describe=lambda: chips(user))
    shown = sorted(chips(user))
    assert shown[0] == "extra.md 18 B, 18 characters"
    assert shown[1].startswith("report.pdf ") and shown[1].endswith(", 2 pages, 33 characters")
    remove_chip(user, "extra.md")
    await wait_for(lambda: len(chips(user)) == 1, describe=lambda: chips(user))
    await send(user, "Summarise the report")
    await wait_for(lambda: model.connections and chips(user, "message-attachments"),
                   describe=lambda: chips(user, "message-attachments"))
    assert chips(user) == []  # the tray is empty for the next message
    assert chips(user, "message-attachments")[0].startswith("report.pdf")
    sent = model.requests[-1]["messages"][-1]
    assert "Quarterly figure 4217." in str(sent["content"]) and "remove me" not in str(sent["content"])
    # Kept with the message: a reload shows it again.
    await wait_for(lambda: "Completed" in " ".join(e.text for e in user.find(marker="status").elements))
    await user.open("/")
    await wait_for(lambda: chips(user, "message-attachments"), describe=lambda: chips(user, "message-attachments"))
    assert chips(user, "message-attachments")[0].startswith("report.pdf")


async def test_an_image_for_a_model_that_cannot_see_is_refused_and_kept(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await attach(user, "photo.png", png_bytes())
    await wait_for(lambda: len(chips(user)) == 1, describe=lambda: chips(user))
    await user.should_see(marker="attachment-thumbnail")
    await send(user, "What is in the picture?")
    await user.should_see("cannot see images")
    assert model.connections == []
    assert len(chips(user)) == 1  # still there, with the text, to send to another model


async def test_a_fake_pdf_gets_a_notice_and_no_chip(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await attach(user, "invoice.pdf", b"not a pdf at all")
    await user.should_see("invoice.pdf is not a PDF")
    assert chips(user) == []


@pytest.fixture
def vision_model(model: ScriptedModel, monkeypatch: pytest.MonkeyPatch) -> ScriptedModel:
    """The same host, its model asked for by a vision model's name (before `user` starts the app)."""
    monkeypatch.setenv("SECRET_AI_MODEL", "test-vl:7b")
    return model


async def test_an_image_sent_to_a_vision_model_shows_as_its_thumbnail(vision_model: ScriptedModel,
                                                                       user: User) -> None:
    vision_model.reply = Reply.of("A red rectangle.")
    await user.open("/")
    await attach(user, "photo.png", png_bytes())
    await wait_for(lambda: len(chips(user)) == 1, describe=lambda: chips(user))
    await send(user, "")  # an image alone is a question too
    await wait_for(lambda: vision_model.connections and chips(user, "message-attachments"))
    sent = vision_model.requests[-1]["messages"][-1]
    assert sent["images"] or isinstance(sent["content"], list)
    await wait_for(lambda: "Completed" in " ".join(e.text for e in user.find(marker="status").elements))
    await user.open("/")  # after a reload, from storage: the thumbnail is there without a click
    await wait_for(lambda: chips(user, "message-attachments"), describe=lambda: chips(user, "message-attachments"))
    with user:
        [thumbnail] = ElementFilter(kind=ui.image, marker="attachment-thumbnail").within(marker="message-attachments")
    assert thumbnail.source.startswith("data:image/jpeg;base64,")
