"""The HTTP API's refusals: every route needs the token, bad bodies are a 422 that says what is
wrong, unknown ids are a 404, another token's streams are invisible; and the models route."""

from __future__ import annotations

import asyncio

import httpx

from secretgpt.services.loopback_model import Reply
from tests.conftest import API_TOKEN, ApiServer
from tests.support.scripted_model import ScriptedModel
from tests.test_api import LONG

# --- auth, validation, not found --------------------------------------------------------------


ROUTES = [
    ("POST", "/api/v1/chat/stream", {"message": "hi"}),
    ("POST", "/api/v1/chat", {"message": "hi"}),
    ("GET", "/api/v1/chat/stream/abc", None),
    ("POST", "/api/v1/chat/stream/pause", {"stream_id": "abc"}),
    ("POST", "/api/v1/chat/stream/resume", {"stream_id": "abc"}),
    ("DELETE", "/api/v1/chat/stream/abc", None),
    ("GET", "/api/v1/chat/streams", None),
    ("GET", "/api/v1/models", None),
]


AUTHORIZATIONS = [None, "Bearer wrong-token", f"Basic {API_TOKEN}", "Bearer", API_TOKEN, f"Bearer {API_TOKEN}x"]


async def test_every_route_needs_the_token(api: ApiServer, model_server) -> None:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as anonymous:
        for authorization in AUTHORIZATIONS:
            headers = {"Authorization": authorization} if authorization is not None else {}
            for method, path, body in ROUTES:
                response = await anonymous.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (authorization, method, path, response.text)
                detail = response.json()["detail"]
                assert detail["kind"] == "unauthorized" and "Authorization: Bearer" in detail["message"]
                assert response.headers["www-authenticate"] == "Bearer"
            # Authentication comes first: a bad body without a token is still a 401.
            response = await anonymous.post("/api/v1/chat/stream", content=b"not json", headers=headers)
            assert response.status_code == 401, authorization
    assert model_server.connections == [] and await api.hub.active_streams() == []


BAD_BODIES: list[tuple[object, str]] = [
    ({"message": ""}, "empty"),
    ({"message": " \n "}, "empty"),
    ({"message": "x" * 51}, "MAX_MESSAGE_CHARS"),
    ({}, "message"),
    ({"message": 42}, "message"),
    ({"message": "hi", "surprise": 1}, "surprise"),
    ([{"message": "hi"}], "object"),
    (b"{not json", "JSON"),
    (b"", "empty"),
]


async def test_bad_bodies_are_a_422_with_a_clear_message(make_api, model_server) -> None:
    api = await make_api(max_message_chars=50)
    for body, needle in BAD_BODIES:
        for path in ("/api/v1/chat/stream", "/api/v1/chat"):
            if isinstance(body, bytes):
                response = await api.client.post(path, content=body, headers={"Content-Type": "application/json"})
            else:
                response = await api.client.post(path, json=body)
            assert response.status_code == 422, (body, path, response.text)
            detail = response.json()["detail"]
            assert detail["kind"] == "bad_request"
            assert needle.lower() in detail["message"].lower(), (body, detail["message"])
    for path in ("/api/v1/chat/stream/pause", "/api/v1/chat/stream/resume"):
        response = await api.client.post(path, json={})
        assert response.status_code == 422 and "stream_id" in response.json()["detail"]["message"]
    assert model_server.connections == [] and await api.hub.active_streams() == []


async def test_unknown_stream_and_conversation_are_404(api: ApiServer, model_server) -> None:
    for method, path, body in ROUTES[2:6]:
        response = await api.client.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["detail"]["kind"] == "not_found" and "abc" in response.json()["detail"]["message"]
    response = await api.client.post("/api/v1/chat/stream", json={"message": "hi", "conversation_id": "nope"})
    assert response.status_code == 404 and "nope" in response.json()["detail"]["message"]
    response = await api.client.post("/api/v1/chat/stream", json={"message": "hi", "model": "no-such-model"})
    assert response.status_code == 422 and "no-such-model" in response.json()["detail"]["message"]
    assert model_server.connections == []


UNKNOWN = [("GET", "/api/v1/nothing"), ("POST", "/api/v2/chat"), ("GET", "/api/"), ("GET", "/api"),
           ("DELETE", "/api/v1/models/x"), ("PUT", "/api/v1/conversations/abc/messages/def/proof/more")]


async def test_unknown_api_paths_are_a_json_404_in_the_api_shape(api: ApiServer) -> None:
    for method, path in UNKNOWN:
        response = await api.client.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"detail": {"message": f"No API route {method} {path} (the routes are in the "
                                                         "README, HTTP API).", "kind": "not_found"}}
        # Like every API route, it needs the token first.
        anonymous = await api.client.request(method, path, headers={"Authorization": ""})
        assert anonymous.status_code == 401 and anonymous.json()["detail"]["kind"] == "unauthorized"
    wrong_method = await api.client.post("/api/v1/models")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"
    assert wrong_method.json()["detail"]["kind"] == "method_not_allowed"
    assert (await api.client.get("/api/v1/models")).status_code == 200  # known routes are unchanged


async def test_a_conversation_is_not_deleted_while_its_answer_streams(api: ApiServer, script: ScriptedModel) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=50)
    async with api.sse("one") as sse:
        start = await sse.next()
        await sse.until("text")
        conversation_id, stream_id = start.data["conversation_id"], start.data["stream_id"]
        response = await api.client.delete(f"/api/v1/conversations/{conversation_id}")
        assert response.status_code == 409
        assert response.json()["detail"] == {
            "message": "An answer is still streaming in this conversation; stop it first.", "kind": "busy"}
        assert (await api.client.get(f"/api/v1/conversations/{conversation_id}")).status_code == 200
        assert (await api.client.delete(f"/api/v1/chat/stream/{stream_id}")).status_code == 200
        await sse.rest()
    response = await api.client.delete(f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200 and response.json()["deleted"] == "yes"
    assert (await api.client.get(f"/api/v1/conversations/{conversation_id}")).status_code == 404


async def test_streams_of_another_token_are_invisible(make_api, script: ScriptedModel) -> None:
    from secretgpt.interfaces.http_api import owner_for_token

    api = await make_api()
    script.reply = Reply.of(LONG, tokens_per_second=20)
    other = await api.hub.send("someone else's", owner=owner_for_token("another-token"))
    assert (await api.client.get("/api/v1/chat/streams")).json() == []
    assert (await api.client.delete(f"/api/v1/chat/stream/{other.id}")).status_code == 404
    assert not other.ended
    await api.hub.stop(other.id, owner=owner_for_token("another-token"))
    await asyncio.wait_for(other.wait(), 5)


async def test_models_route(api: ApiServer, model_server, protocol: str) -> None:
    body = (await api.client.get("/api/v1/models")).json()
    assert body["models"] == [{"name": "loopback", "url": model_server.url, "demo": False, "protocol": protocol,
                               "vision": False}]
    assert body["error"] is None
