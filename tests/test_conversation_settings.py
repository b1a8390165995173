"""Per-conversation system prompt and generation options: one model (GenerationOptions) validates
them for the API, the page and imports; they are stored, exported, sent, and recorded per answer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from secretgpt.hub.chat_hub import ChatHub
from secretgpt.records import ConversationSettings, GenerationOptions
from secretgpt.storage.export import InvalidImport
from secretgpt.storage.migrations import MIGRATIONS, latest_version
from secretgpt.storage.sql import SqlConversationStore, database_url

from tests.conftest import OWNER, ApiServer
from tests.support.scripted_model import ScriptedModel
from tests.test_storage_export import _valid

PIRATE = ConversationSettings(system="Talk like a pirate.", options=GenerationOptions(temperature=0.4, seed=9))

OUT_OF_RANGE = [
    ({"temperature": 2.5}, "temperature must be a number from 0 to 2"),
    ({"temperature": -0.1}, "temperature must be a number from 0 to 2"),
    ({"top_p": 1.5}, "top_p must be a number from 0 to 1"),
    ({"max_tokens": 0}, "max_tokens must be a positive whole number"),
    ({"max_tokens": 12.5}, "max_tokens must be a positive whole number"),
    ({"seed": -3}, "seed must be a positive whole number"),
    ({"seed": "seven"}, "seed must be a positive whole number"),
    ({"temperature": True}, "temperature must be a number from 0 to 2"),
    ({"top_k": 5}, "top_k"),  # not one of ours: named, not ignored
]


@pytest.mark.parametrize(("options", "message"), OUT_OF_RANGE)
def test_out_of_range_options_name_the_field_and_its_range(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GenerationOptions.model_validate(options)
    name, value = next(iter(options.items()))
    if name != "top_k":
        assert GenerationOptions.problem(name, value) == f"{message} (got {value!r})"


def test_edges_are_allowed_and_whole_floats_become_integers() -> None:
    options = GenerationOptions(temperature=0, top_p=1, max_tokens=4096.0, seed=1)
    assert options.sent() == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 4096, "seed": 1}
    assert GenerationOptions().sent() == {}
    assert GenerationOptions.problem("temperature", None) is None


# --- over the API ---------------------------------------------------------------------------------


async def test_chat_stream_takes_system_and_options_and_they_stay(api: ApiServer, script: ScriptedModel,
                                                                  model_server) -> None:
    body = {"system": PIRATE.system, "options": {"temperature": 0.4, "seed": 9}}
    async with api.sse("Ahoy?", **body) as sse:
        frames = await sse.rest()
    done = frames[-1].data
    assert done["type"] == "done"
    assert done["settings"] == PIRATE.model_dump(mode="json")  # what this answer was made with
    first = model_server.connections[-1].request
    assert first["messages"][0] == {"role": "system", "content": PIRATE.system}
    conversation_id = frames[0].data["conversation_id"]

    # Kept with the conversation: the next message uses them without repeating them.
    async with api.sse("Again?", conversation_id=conversation_id) as sse:
        await sse.rest()
    again = model_server.connections[-1].request
    assert again["messages"][0] == {"role": "system", "content": PIRATE.system}
    assert [m["role"] for m in again["messages"]] == ["system", "user", "assistant", "user"]

    shown = (await api.client.get(f"/api/v1/conversations/{conversation_id}")).json()
    assert (shown["system"], shown["options"]) == (PIRATE.system, PIRATE.options.model_dump())
    answers = [m for m in shown["messages"] if m["role"] == "assistant"]
    assert all(m["metadata"]["settings"] == PIRATE.model_dump(mode="json") for m in answers)


async def test_patch_changes_settings_for_the_next_answers(api: ApiServer, model_server) -> None:
    reply = (await api.client.post("/api/v1/chat", json={"message": "hi"})).json()
    conversation_id = reply["conversation_id"]
    assert reply["metadata"]["settings"] == {"system": "", "options": GenerationOptions().model_dump()}
    assert model_server.connections[-1].request["messages"][0]["role"] == "user"  # no empty system message

    response = await api.client.patch(f"/api/v1/conversations/{conversation_id}",
                                      json={"system": "Be brief.", "options": {"max_tokens": 50}})
    assert response.status_code == 200, response.text
    assert response.json()["system"] == "Be brief." and response.json()["options"]["max_tokens"] == 50
    # Only the title: the settings stay.
    response = await api.client.patch(f"/api/v1/conversations/{conversation_id}", json={"title": "Short"})
    assert response.json() == {"conversation_id": conversation_id, "title": "Short", "system": "Be brief.",
                               "options": GenerationOptions(max_tokens=50).model_dump()}

    second = (await api.client.post("/api/v1/chat", json={"message": "more", "conversation_id": conversation_id}))
    assert second.json()["metadata"]["settings"]["options"]["max_tokens"] == 50
    assert model_server.connections[-1].request["messages"][0] == {"role": "system", "content": "Be brief."}

    # "" clears the system prompt; options replace the old ones as a whole.
    await api.client.patch(f"/api/v1/conversations/{conversation_id}", json={"system": "", "options": {}})
    shown = (await api.client.get(f"/api/v1/conversations/{conversation_id}")).json()
    assert (shown["system"], shown["options"]) == ("", GenerationOptions().model_dump())


@pytest.mark.parametrize(("options", "message"), OUT_OF_RANGE)
async def test_bad_options_are_a_422_naming_field_and_range(api: ApiServer, model_server, options: dict,
                                                            message: str) -> None:
    created = (await api.client.post("/api/v1/chat", json={"message": "hi"})).json()
    requests = [
        ("POST", "/api/v1/chat/stream", {"message": "hi", "options": options}),
        ("POST", "/api/v1/chat", {"message": "hi", "options": options}),
        ("PATCH", f"/api/v1/conversations/{created['conversation_id']}", {"options": options}),
    ]
    for method, path, body in requests:
        response = await api.client.request(method, path, json=body)
        assert response.status_code == 422, (path, response.text)
        detail = response.json()["detail"]
        assert detail["kind"] == "bad_request" and message in detail["message"], detail["message"]
        assert f"options.{next(iter(options))}" in detail["message"]
    assert len(model_server.connections) == 1  # nothing was sent to the model


# Numbers JSON can write but a float cannot hold: Python reads 1e400 as inf, which must not pass
# for "not set" (the model's default) nor reach the model.
UNREPRESENTABLE = [("temperature", "1e400"), ("top_p", "-1e400"), ("max_tokens", "1e400"), ("seed", "1e400"),
                   ("temperature", "NaN"), ("temperature", "Infinity")]


@pytest.mark.parametrize(("name", "number"), UNREPRESENTABLE)
async def test_numbers_beyond_a_float_are_a_422_naming_the_field(api: ApiServer, model_server, name: str,
                                                                 number: str) -> None:
    created = (await api.client.post("/api/v1/chat", json={"message": "hi"})).json()
    options = '{"%s": %s}' % (name, number)
    requests = [
        ("POST", "/api/v1/chat/stream", '{"message": "hi", "options": %s}' % options),
        ("POST", "/api/v1/chat", '{"message": "hi", "options": %s}' % options),
        ("PATCH", f"/api/v1/conversations/{created['conversation_id']}", '{"options": %s}' % options),
    ]
    for method, path, body in requests:
        response = await api.client.request(method, path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, (path, body, response.text)
        detail = response.json()["detail"]
        assert detail["kind"] == "bad_request" and f"options.{name}: {name} must be" in detail["message"], detail
    shown = (await api.client.get(f"/api/v1/conversations/{created['conversation_id']}")).json()
    assert shown["options"] == GenerationOptions().model_dump()  # nothing was changed to "the default" either
    assert len(model_server.connections) == 1  # nothing was sent to the model


async def test_patch_needs_something_and_finds_only_own_conversations(api: ApiServer) -> None:
    created = (await api.client.post("/api/v1/chat", json={"message": "hi"})).json()
    response = await api.client.patch(f"/api/v1/conversations/{created['conversation_id']}", json={})
    assert response.status_code == 422 and "title, system, options" in response.json()["detail"]["message"]
    response = await api.client.patch("/api/v1/conversations/nope", json={"system": "x"})
    assert response.status_code == 404


async def test_new_conversations_start_from_default_system_prompt(make_hub, model_server) -> None:
    hub: ChatHub = make_hub(default_system_prompt="You are SecretGPT.")
    stream = await hub.send("hi", owner=OWNER)
    await stream.wait()
    assert model_server.connections[-1].request["messages"][0] == {"role": "system", "content": "You are SecretGPT."}
    assert (await hub.conversation(stream.conversation_id, owner=OWNER)).system == "You are SecretGPT."
    # An explicit empty prompt wins over the default.
    stream = await hub.send("hi", owner=OWNER, system="")
    await stream.wait()
    assert model_server.connections[-1].request["messages"][0]["role"] == "user"


# --- storage, export, import ------------------------------------------------------------------------


async def test_settings_are_stored_exported_and_imported(store: SqlConversationStore, tmp_path: Path) -> None:
    conversation = await store.create(OWNER, "Pirates", settings=PIRATE)
    assert (await store.get(conversation.id, OWNER)).settings == PIRATE
    exported = await store.export_json(conversation.id, OWNER)
    assert exported["conversation"]["system"] == PIRATE.system
    assert exported["conversation"]["options"]["temperature"] == 0.4
    assert "Talk like a pirate." in await store.export_markdown(conversation.id, OWNER)

    other = await SqlConversationStore.open(database_url(tmp_path / "other"))
    try:
        (copy_id,) = await other.import_json(OWNER, exported)
        assert (await other.get(copy_id, OWNER)).settings == PIRATE
        # An export from before conversation settings existed imports with the defaults.
        (old_id,) = await other.import_json(OWNER, _valid())
        assert (await other.get(old_id, OWNER)).settings == ConversationSettings()
        bad = _valid()
        bad["conversation"]["options"] = {"temperature": 9}
        with pytest.raises(InvalidImport, match="conversation.options.temperature: temperature must be a number "
                                                "from 0 to 2"):
            await other.import_json(OWNER, bad)
    finally:
        await other.close()


async def test_a_v1_database_upgrades_and_its_conversations_get_the_defaults(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    v1 = await SqlConversationStore.open(url, migrations=MIGRATIONS[:1])
    await v1.close()
    with sqlite3.connect(tmp_path / "secretgpt.db") as raw:  # a row as the v1 app wrote it
        raw.execute("INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES "
                    "('c1', 'me', 'Old', '2025-01-01 00:00:00.000000', '2025-01-01 00:00:00.000000')")
    store = await SqlConversationStore.open(url)
    try:
        assert await store.schema_version() == latest_version()
        old = await store.get("c1", "me")
        assert old.title == "Old" and old.settings == ConversationSettings()
        await store.update_settings("c1", "me", PIRATE)
        assert (await store.get("c1", "me")).settings == PIRATE
    finally:
        await store.close()
