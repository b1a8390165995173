"""`GET /api/v1/conversations?search=` over HTTP: best match first, each with its "snippet" (plain
text) and "highlights" ([start, end) offsets into it); any text searches, none raises."""

from __future__ import annotations

from secretgpt.services.loopback_model import Reply
from tests.conftest import ApiServer
from tests.support.scripted_model import ScriptedModel


async def test_search_returns_the_snippet_and_its_highlights(api: ApiServer, script: ScriptedModel) -> None:
    script.replies.extend([Reply.of("Bring a <script>jacket</script>: the ferries to Gozo are windy."),
                           Reply.of("Nothing about boats.")])
    for question in ("Trip to Malta", "Other things"):
        answered = await api.client.post("/api/v1/chat", json={"message": question})
        assert answered.status_code == 200, answered.text

    response = await api.client.get("/api/v1/conversations", params={"search": "ferr gozo"})
    assert response.status_code == 200, response.text
    [found] = response.json()
    assert found["title"] == "Trip to Malta"
    snippet = found["snippet"]
    assert "the ferries to Gozo are windy" in snippet
    assert [snippet[start:end] for start, end in found["highlights"]] == ["ferries", "Gozo"]

    listed = (await api.client.get("/api/v1/conversations")).json()
    assert [c["title"] for c in listed] == ["Other things", "Trip to Malta"]
    assert [(c["snippet"], c["highlights"]) for c in listed] == [(None, []), (None, [])]
    for term in ('"', "*", "NEAR(", "-x", "a OR", "'\\", "\u0000"):
        response = await api.client.get("/api/v1/conversations", params={"search": term})
        assert response.status_code == 200 and isinstance(response.json(), list), (term, response.text)
