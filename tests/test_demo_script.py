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


# --- settings, length, variety --------------------------------------------------------------------


def ask(question: str = "What can you do?", **settings: object) -> dict:
    return {"messages": [{"role": "user", "content": question}], **settings}


def chunks(reply) -> int:  # noqa: ANN001 - a Reply
    return sum(1 for step in reply.steps if step.kind == "chunk")


def test_max_tokens_cuts_the_answer_with_finish_reason_length() -> None:
    for request in (ask(max_tokens=20), ask(options={"num_predict": 20})):  # OpenAI's name, and Ollama's
        reply = demo_reply(request)
        assert chunks(reply) == 20 and reply.finish_reason == "length"
        assert reply.text.startswith("**This is the offline demo model**")  # brief reasoning leaves room to say so
    whole = demo_reply(ask(max_tokens=100_000))
    assert whole.finish_reason == "stop" and chunks(whole) < 100_000


def test_continue_after_a_length_cut_carries_on_where_it_stopped() -> None:
    cut = demo_reply(ask(max_tokens=40, seed=5))
    full = demo_reply(ask(max_tokens=100_000, seed=5)).text.replace("100000", "40")
    rest = demo_reply({**ask(max_tokens=40, seed=5), "messages": [QUESTION, {"role": "assistant", "content": cut.text}]})
    assert rest.thinking == "" and chunks(rest) == 40
    assert full.startswith(cut.text + rest.text)


def test_the_answer_says_which_settings_it_received() -> None:
    text = demo_reply(ask(temperature=0.7, top_p=0.9, max_tokens=5000, seed=42)).text
    assert "Settings it received: temperature 0.7, top p 0.9, max tokens 5000, seed 42." in text
    assert "Settings it received: none (the model's defaults)." in demo_reply(ask()).text


def test_a_seed_picks_a_variant_and_temperature_zero_always_the_same() -> None:
    assert demo_reply(ask(seed=7, temperature=1.5)).text == demo_reply(ask(seed=7, temperature=1.5)).text
    lively = {demo_reply(ask(seed=seed, temperature=1.5)).text.split(" You wrote")[0] for seed in range(1, 30)}
    assert len(lively) >= 4  # a hot temperature has more wordings to pick from ...
    calm = {demo_reply(ask(seed=seed, temperature=0.5)).text.split(" You wrote")[0] for seed in range(1, 30)}
    assert 2 <= len(calm) < len(lively)  # ... than a cool one
    greedy = {demo_reply(ask(seed=seed, temperature=0)).text.replace(f"seed {seed}", "seed") for seed in range(1, 6)}
    assert len(greedy) == 1 and "At temperature 0 it always answers with the same words." in greedy.pop()


def test_different_questions_get_different_wordings() -> None:
    openings = {demo_reply(ask(f"Question number {i}")).text.split(" You wrote")[0] for i in range(12)}
    assert len(openings) > 1
    assert all(o.startswith("**This is the offline demo model") for o in openings)


def test_a_long_answer_streams_for_over_thirty_seconds_at_the_default_pace() -> None:
    for question, kind in (("Write a long answer so I can try Pause and Stop while it streams.", "An essay"),
                           ("Tell me a story", "A story"), ("Write an essay about enclaves", "An essay")):
        reply = demo_reply(ask(question))  # the default pace: 40 tokens a second
        assert chunks(reply) / reply.tokens_per_second >= 30, question
        assert reply.text.startswith("**This is the offline demo model") and kind in reply.text
        assert reply.finish_reason == "stop"
    assert chunks(demo_reply(ask("A short one, please"))) / 40 < 15


async def test_the_demo_app_stops_at_max_tokens_and_continue_carries_on(make_settings) -> None:  # noqa: ANN001
    """Through the app: the demo server, AsyncOpenAI, the hub, as `python main.py` runs it without a key."""
    from secretgpt.interfaces.runtime import Runtime
    from secretgpt.records import GenerationOptions

    runtime = Runtime(make_settings(demo_tokens_per_second=4000))
    hub = await runtime.start()
    try:
        first = await hub.send("What can you do?", owner="demo", options=GenerationOptions(max_tokens=20, seed=3))
        cut = await first.wait()
        assert (cut.status.value, cut.done_reason, cut.completion_tokens) == ("completed", "length", 20)
        assert cut.text.startswith("**This is the offline demo model**")
        more = await hub.send("", owner="demo", conversation_id=cut.conversation_id, continue_from=first.message_id)
        carried = await more.wait()
        assert carried.done_reason == "length" and carried.text.startswith(cut.text) and len(carried.text) > len(cut.text)
    finally:
        await runtime.stop()


def test_the_demo_says_what_files_and_images_it_received() -> None:
    import base64

    from tests.support.files import png_bytes

    image = base64.b64encode(png_bytes(400, 300)).decode()
    turn = ("Read these\n\n--- Attached file: a.pdf (PDF, 1 page) ---\nText\n--- End of a.pdf ---\n\n"
            "--- Attached file: b.md (text) ---\nMore\n--- End of b.md ---")
    openai = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": turn}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}}]}]}
    ollama = {"messages": [{"role": "user", "content": turn, "images": [image]}]}
    size = round(len(base64.b64decode(image)) / 1000)
    for request in (openai, ollama):
        text = demo_reply(request).text
        assert f"I received 1 image (PNG, {max(1, size)} KB) and 2 files with your message" in text
        assert "You wrote: *Read these*" in text  # the files' text is not taken for the question
