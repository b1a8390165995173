"""Export and import over the API of a real `python main.py`: a round trip is lossless, and a
damaged file is a clear 422 that changes nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx

from secretgpt.services.loopback_model import Reply
from tests.support.scripted_model import ScriptedModel
from tests.support.sse import event_stream
from tests.test_app_process import Launch, chat, conversation, launch, model, sigterm_exit  # noqa: F401

# --- export -> import ---------------------------------------------------------------------------------


def without_ids(export: dict[str, Any]) -> dict[str, Any]:
    """An export with its ids replaced by message positions (parents and the leaf included), and
    without the moment it was exported: what must survive an import unchanged."""
    doc = copy.deepcopy(export)
    doc.pop("exported_at")
    conv = doc["conversation"]
    position = {m["id"]: i for i, m in enumerate(conv["messages"])}
    conv.pop("id")
    conv["current_leaf_id"] = position[conv["current_leaf_id"]]
    for m in conv["messages"]:
        m["id"] = position[m["id"]]
        m["parent_id"] = position[m["parent_id"]] if m["parent_id"] is not None else None
    return doc


def without_claims(conversation: dict[str, Any]) -> dict[str, Any]:
    """`conversation` (changed in place) with its answers' attestation claims cleared, as an import
    clears them."""
    for message in conversation["messages"]:
        if message["metadata"].get("attestation") is not None:
            message["metadata"]["attestation"] = None
    return conversation


def thread_without_ids(stored: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k not in ("id", "parent_id", "sibling_ids")} | {
        "alternatives": len(m["sibling_ids"])} for m in stored["messages"]]


async def test_export_import_round_trip_and_bad_files_change_nothing(launch: Launch, model: ScriptedModel) -> None:
    model.replies.extend([
        Reply.of("Use a **hash map**.\n\n```python\nseen = {}\n```", "They want O(1) lookups.", tokens_per_second=400),
        Reply.of("Or a set, if you only need membership.", "Simpler."),
        Reply.of("A sorted list with bisect also works.", "Another alternative."),
    ])
    app = await launch().start()
    async with app.client() as client:
        async with event_stream(client, {"message": "Fast lookups in Python? ünïcödé ✓"}) as sse:
            await sse.ended(30)
        conversation_id = sse.frames[0].data["conversation_id"]
        await chat(client, message="Anything simpler?", conversation_id=conversation_id)
        thread = (await conversation(client, conversation_id))["messages"]
        # A regenerated answer: the tree has two alternatives under the second question.
        await chat(client, conversation_id=conversation_id, regenerate=thread[3]["id"])
        original = await conversation(client, conversation_id)
        assert len(original["messages"][3]["sibling_ids"]) == 2

        exported = (await client.get(f"/api/v1/conversations/{conversation_id}/export")).json()
        assert exported["format"] == "secretgpt.conversation" and exported["version"] == 1
        assert len(exported["conversation"]["messages"]) == 5  # the whole tree, alternatives included
        response = await client.post("/api/v1/conversations/import", content=json.dumps(exported).encode())
        assert response.status_code == 200, response.text
        [imported_id] = response.json()["conversation_ids"]
        assert imported_id != conversation_id
        reexported = (await client.get(f"/api/v1/conversations/{imported_id}/export")).json()
        assert reexported["conversation"]["id"] == imported_id
        assert {m["id"] for m in reexported["conversation"]["messages"]}.isdisjoint(
            m["id"] for m in exported["conversation"]["messages"])
        # Everything comes back but the answers' attestation: only this app's own proof of an
        # answer may show it (a file could claim "verified" for anything).
        claims = [m["metadata"].get("attestation") for m in exported["conversation"]["messages"]]
        assert any(claims) and not any(m["metadata"].get("attestation")
                                       for m in reexported["conversation"]["messages"])
        without_claims(exported["conversation"])
        # A copy of a conversation this owner already has says so in its title; all else is the same.
        title = exported["conversation"]["title"]
        assert reexported["conversation"]["title"] == f"{title} (imported copy)"
        reexported["conversation"]["title"] = title
        assert without_ids(reexported) == without_ids(exported)
        imported = await conversation(client, imported_id)
        assert thread_without_ids(imported) == thread_without_ids(without_claims(copy.deepcopy(original)))
        assert await conversation(client, conversation_id) == original  # the original is untouched

        listed = (await client.get("/api/v1/conversations")).json()
        assert {s["id"] for s in listed} == {conversation_id, imported_id}
        await assert_bad_imports_change_nothing(client, exported, listed)
    assert sigterm_exit(await app.terminate())


async def assert_bad_imports_change_nothing(client: httpx.AsyncClient, exported: dict[str, Any],
                                            listed: list[dict[str, Any]]) -> None:
    """Each damaged file is a 422 saying what is wrong, and nothing is imported."""
    everything = (await client.get("/api/v1/conversations/export")).json()
    damaged_parent = copy.deepcopy(exported)
    damaged_parent["conversation"]["messages"][2]["parent_id"] = "no-such-message"
    newer = {**exported, "version": 2}
    one_bad_of_two = copy.deepcopy(everything)
    one_bad_of_two["conversations"][1]["messages"][1]["parent_id"] = "no-such-message"
    text = json.dumps(exported)
    bad_files: list[tuple[str, bytes, tuple[str, ...]]] = [
        ("truncated", text[: len(text) // 2].encode(), ("not JSON",)),
        ("empty", b"", ("not JSON",)),
        ("newer version", json.dumps(newer).encode(), ("format version 2", "version 1")),
        ("dangling parent_id", json.dumps(damaged_parent).encode(), ("damaged", "parent_id", "no-such-message")),
        ("one bad of two", json.dumps(one_bad_of_two).encode(), ("damaged", "parent_id", "no-such-message")),
        ("not an export", json.dumps({"messages": []}).encode(), ("not a SecretGPT export", "format")),
    ]
    for name, body, phrases in bad_files:
        response = await client.post("/api/v1/conversations/import", content=body)
        assert response.status_code == 422, (name, response.status_code, response.text)
        detail = response.json()["detail"]
        assert detail["kind"] == "invalid_import", (name, detail)
        for phrase in phrases:
            assert phrase in detail["message"], (name, phrase, detail["message"])

    assert (await client.get("/api/v1/conversations")).json() == listed
    after = (await client.get("/api/v1/conversations/export")).json()
    assert after["conversations"] == everything["conversations"]
