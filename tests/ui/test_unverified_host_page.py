"""ATTESTATION_POLICY=require on the page: a prompt for a host that is not a verified VM (here a
plain-http loopback server) is not sent; the page says why, keeps the text, and "Send anyway"
sends it; the consent holds for the next message. Under `warn` it goes, with a notice first."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from .conftest import ScriptedModel
from .test_chat_page import send, wait_for


@pytest.fixture(autouse=True)
def plain_http_hosts_allowed(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Overrides the package's `warn`: these tests are about the refusal."""
    monkeypatch.setenv("ATTESTATION_POLICY", getattr(request, "param", "require"))


async def test_refused_then_sent_anyway(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await send(user, "My confidential question")
    await user.should_see(marker="unverified-host", retries=100)
    await user.should_see("Not sent:")
    await user.should_see("plain http")
    assert model.requests == [] and model.server.bytes_received == 0
    assert user.find("Message").elements.pop().value == "My confidential question"  # nothing lost
    user.find(marker="send-anyway").click()
    await user.should_see("Completed", retries=100)
    assert model.requests[-1]["messages"][-1]["content"] == "My confidential question"
    assert user.find("Message").elements.pop().value == ""
    # The consent holds for this host while its state is the same.
    await send(user, "And a second one")
    await wait_for(lambda: len(model.requests) == 2)


async def test_dont_send_keeps_the_text_and_sends_nothing(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await send(user, "Keep this")
    await user.should_see(marker="unverified-host", retries=100)
    user.find(marker="dont-send").click()
    await user.should_not_see("Not sent:")
    assert model.requests == [] and user.find("Message").elements.pop().value == "Keep this"


@pytest.mark.parametrize("plain_http_hosts_allowed", ["warn"], indirect=True)
async def test_warn_sends_with_a_notice_first(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await send(user, "Go ahead")
    await user.should_see("which is not a verified confidential VM", retries=100)
    await user.should_see("Completed", retries=100)
    assert len(model.requests) == 1
