"""The import dialog and the conversation list's per-item menu, as a user works with them."""

from __future__ import annotations

import json

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from .conftest import ScriptedModel
from .test_chat_page import wait_for
from .test_conversations_page import ask_and_wait, conversation_titles


async def choose_file(user: User, name: str, data: bytes) -> None:
    """What picking a file in the browser ends with: the upload arrives at the server."""
    [upload] = user.find(kind=ui.upload, marker="import-file").elements
    await upload.handle_uploads([SmallFileUpload(name, "application/octet-stream", data)])


def import_message(user: User) -> str:
    try:
        return " ".join(label.text for label in user.find(marker="import-message").elements)
    except AssertionError:  # no dialog
        return ""


async def test_wrong_files_are_refused_with_what_is_expected(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    user.find("Import").click()
    await user.should_see("Choose a JSON file exported from SecretGPT")
    await choose_file(user, "notes.txt", b"just some words")
    await wait_for(lambda: "cannot be imported" in import_message(user), describe=lambda: import_message(user))
    assert "“notes.txt” cannot be imported. This file is not JSON" in import_message(user)
    assert "SecretGPT imports the JSON files it exports" in import_message(user)
    await user.should_not_see(marker="import-confirm")  # nothing to confirm

    await choose_file(user, "other.json", json.dumps({"hello": "world"}).encode())
    await wait_for(lambda: "has no \"format\" field" in import_message(user), describe=lambda: import_message(user))
    assert "This is not a SecretGPT export" in import_message(user)


async def test_importing_the_same_export_twice_says_so_and_can_make_a_copy(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await ask_and_wait(user, "Original question")
    user.find(marker="actions-Original-question").click()
    user.find(marker="menu-export-md").click()
    markdown = (await user.download.next()).content
    user.find(marker="actions-Original-question").click()
    user.find(marker="menu-export-json").click()
    exported = (await user.download.next()).content
    assert markdown.startswith(b"# Original question") and json.loads(exported)["format"] == "secretgpt.conversation"

    user.find("Import").click()
    await user.should_see("Choose a JSON file exported from SecretGPT")
    await choose_file(user, "Original-question.md", markdown)
    await wait_for(lambda: "This is a Markdown export" in import_message(user), describe=lambda: import_message(user))
    assert "cannot be imported back" in import_message(user)

    # The export of a conversation that is here: said so, and only "Import a copy" is offered.
    await choose_file(user, "Original-question.json", exported)
    await user.should_see(marker="import-duplicate")
    assert "“Original-question.json” holds 1 conversation:" in import_message(user)
    await user.should_see("Original question (2 messages) — already in your conversations")
    await user.should_see("You already have this conversation")
    confirm = user.find(marker="import-confirm").elements.pop()
    assert confirm.visible and confirm.text == "Import a copy"
    user.find("Import a copy").click()
    await user.should_see("Imported 1 conversation.")
    await wait_for(lambda: sorted(conversation_titles(user)) == ["Original question",
                                                                 "Original question (imported copy)"],
                   describe=lambda: conversation_titles(user))

    # Cancel imports nothing.
    user.find("Import").click()
    await user.should_see("Choose a JSON file exported from SecretGPT")
    await choose_file(user, "Original-question.json", exported)
    await user.should_see(marker="import-duplicate")
    user.find(marker="import-cancel").click()
    await user.should_not_see(marker="import-dialog")
    assert len(conversation_titles(user)) == 2
