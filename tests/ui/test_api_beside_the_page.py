"""The API mounted beside the page, in the one NiceGUI app `main.py` runs: an unknown `/api/` path
is the API's JSON 404, never the page's HTML (NiceGUI answers unknown paths with its page)."""

from __future__ import annotations

from nicegui import app
from nicegui.testing import User


async def test_unknown_api_paths_are_json_and_unknown_pages_are_the_page(user: User) -> None:
    headers = {"Authorization": f"Bearer {app.state.runtime.api_token}"}
    for path in ("/api/v1/nothing", "/api/v2/chat/stream", "/api/"):
        response = await user.http_client.get(path, headers=headers)
        assert response.status_code == 404, (path, response.text[:200])
        assert response.headers["content-type"] == "application/json", (path, response.text[:200])
        assert response.json()["detail"]["kind"] == "not_found"
    post = await user.http_client.post("/api/v1/chat/nothing", headers=headers, json={"message": "hi"})
    assert post.status_code == 404 and post.json()["detail"]["kind"] == "not_found"
    # The API's own 404s are JSON too, and an unknown page is still the page.
    response = await user.http_client.get("/api/v1/conversations/nope", headers=headers)
    assert response.status_code == 404 and response.json()["detail"]["kind"] == "not_found"
    page = await user.http_client.get("/no-such-page")
    assert page.headers["content-type"].startswith("text/html")
