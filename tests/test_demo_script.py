"""The offline demo model's script: Continue carries on its own partial answer, and its code
sample calls the app where it really runs."""

from __future__ import annotations

from secretgpt.config.settings import Settings
from secretgpt.services.loopback_model import demo_reply

QUESTION = {"role": "user", "content": "What can you do?"}


def test_the_code_sample_uses_the_apps_url() -> None:
    text = demo_reply({"messages": [QUESTION]}, app_url="http://127.0.0.1:9123").text
    assert '"http://127.0.0.1:9123/api/v1/chat/stream"' in text
    assert "8080" not in text


def test_continue_says_only_the_rest_of_a_partial_answer() -> None:
    full = demo_reply({"messages": [QUESTION]})
    for cut in (1, 137, len(full.text) // 2, len(full.text) - 1):
        partial = full.text[:cut]
        rest = demo_reply({"messages": [QUESTION, {"role": "assistant", "content": partial}]})
        assert partial + rest.text == full.text
        assert rest.thinking == ""  # it does not think its way to the start again


def test_continue_of_an_answer_it_did_not_write_says_so() -> None:
    rest = demo_reply({"messages": [QUESTION, {"role": "assistant", "content": "Something else entirely"}]})
    assert "can only continue its own answers" in rest.text
    assert "This is the offline demo model" not in rest.text


def test_a_new_question_after_an_answer_gets_the_whole_script() -> None:
    first = demo_reply({"messages": [QUESTION]})
    again = demo_reply({"messages": [QUESTION, {"role": "assistant", "content": first.text},
                                     {"role": "user", "content": "More"}]})
    assert again.text.startswith("**This is the offline demo model**") and again.thinking


def test_the_local_url_of_a_wildcard_host_is_loopback() -> None:
    assert Settings(host="0.0.0.0", port=9000).local_url == "http://127.0.0.1:9000"
    assert Settings(host="::", port=9000).local_url == "http://[::1]:9000"
    assert Settings(host="127.0.0.1", port=8123).local_url == "http://127.0.0.1:8123"
