"""The incremental think-tag parser, on its own: splits at every position, odd endings; and the one
think timer (the hub's `Tally`) over what it emits."""

from __future__ import annotations

import itertools

import pytest

from secretgpt.hub.tally import Tally
from secretgpt.records import ChunkKind, StreamChunk
from secretgpt.services.secret_ai import ThinkTagParser

ANSWER = "<think>Weigh a < b and c > d.</think>The answer is <b>42</b>."
THINK_PART = "Weigh a < b and c > d."
TEXT_PART = "The answer is <b>42</b>."


def run(chunks: list[str], parser: ThinkTagParser | None = None) -> list[StreamChunk]:
    parser = parser or ThinkTagParser()
    out: list[StreamChunk] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    out += parser.finish()
    return out


def joined(chunks: list[StreamChunk], kind: ChunkKind) -> str:
    return "".join(c.content for c in chunks if c.kind is kind)


def assert_separated(out: list[StreamChunk], think: str, text: str) -> None:
    assert joined(out, ChunkKind.THINK) == think
    assert joined(out, ChunkKind.TEXT) == text
    # Reasoning comes first, and no chunk is empty (an empty event would be noise on the wire).
    kinds = [c.kind for c in out]
    assert kinds == sorted(kinds, key=lambda k: k is ChunkKind.TEXT)
    assert all(c.content for c in out)


@pytest.mark.parametrize("split", range(len(ANSWER) + 1))
def test_one_split_at_every_position(split: int) -> None:
    out = run([ANSWER[:split], ANSWER[split:]])
    assert_separated(out, THINK_PART, TEXT_PART)


def test_two_splits_at_every_pair_of_positions() -> None:
    for i, j in itertools.combinations(range(len(ANSWER) + 1), 2):
        out = run([ANSWER[:i], ANSWER[i:j], ANSWER[j:]])
        assert joined(out, ChunkKind.THINK) == THINK_PART, (i, j)
        assert joined(out, ChunkKind.TEXT) == TEXT_PART, (i, j)


def test_one_character_per_chunk() -> None:
    assert_separated(run(list(ANSWER)), THINK_PART, TEXT_PART)


def test_partial_tag_is_held_back_until_it_is_decided() -> None:
    parser = ThinkTagParser()
    assert [(c.kind, c.content) for c in parser.feed("Hi <thi")] == [(ChunkKind.TEXT, "Hi ")]
    # "<thi" + "s" is not a tag after all: it must come out as text, in order.
    assert [(c.kind, c.content) for c in parser.feed("s>")] == [(ChunkKind.TEXT, "<this>")]
    assert parser.finish() == []


def test_text_without_tags_passes_through_unchanged() -> None:
    text = "Compare x<y, <br> and </div>; also a lone < at the end <"
    out = run([text[i:i + 3] for i in range(0, len(text), 3)])
    assert_separated(out, "", text)


def test_unclosed_think_block_is_closed_at_the_end() -> None:
    parser = ThinkTagParser()
    out = run(["<think>Still wei", "ghing the options"], parser)
    assert_separated(out, "Still weighing the options", "")
    assert not parser.in_think
    tally = Tally(streaming=True)
    for chunk in out:
        tally.add(chunk)
    tally.model_ended()  # the model's end closes the think timer, as it closes the block
    assert tally.think_seconds is not None


@pytest.mark.parametrize("tail", ["<", "</", "</th", "</think"])
def test_unclosed_think_block_cut_inside_its_closing_tag(tail: str) -> None:
    out = run(["<think>Almost done", tail])
    # A lone "<" may be a real character (as in answer text); anything longer is a cut tag.
    assert_separated(out, "Almost done<" if tail == "<" else "Almost done", "")


@pytest.mark.parametrize("tail", ["<t", "<thi", "<think"])
def test_truncated_opening_tag_at_the_end_never_reaches_the_text(tail: str) -> None:
    out = run(["The end.", tail])
    assert_separated(out, "", "The end.")


def test_lone_angle_bracket_at_the_end_is_kept_as_text() -> None:
    assert_separated(run(["if a ", "<"]), "", "if a <")


def test_reasoning_field_then_content() -> None:
    parser = ThinkTagParser()
    out = parser.feed_reasoning("First ") + parser.feed_reasoning("thoughts.") + parser.feed("Answer.")
    out += parser.finish()
    assert_separated(out, "First thoughts.", "Answer.")


def test_empty_deltas_produce_nothing() -> None:
    parser = ThinkTagParser()
    assert parser.feed("") == [] and parser.feed_reasoning("") == [] and parser.finish() == []
    tally = Tally(streaming=True)
    tally.model_ended()
    assert tally.think_seconds is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed_timed(tally: Tally, chunks: list[StreamChunk]) -> None:
    for chunk in chunks:
        tally.add(chunk)


def test_think_seconds_for_inline_tags() -> None:
    clock = FakeClock()
    parser, tally = ThinkTagParser(), Tally(streaming=True, clock=clock)
    feed_timed(tally, parser.feed("<think>hm"))
    clock.now += 2.5
    feed_timed(tally, parser.feed("m</think>Answer"))
    clock.now += 10  # answer time is not thinking time
    feed_timed(tally, parser.feed(" more answer") + parser.finish())
    tally.model_ended()
    assert tally.think_seconds == pytest.approx(2.5)


def test_think_seconds_for_the_reasoning_field() -> None:
    clock = FakeClock()
    parser, tally = ThinkTagParser(), Tally(streaming=True, clock=clock)
    feed_timed(tally, parser.feed_reasoning("hmm"))
    clock.now += 1.5
    feed_timed(tally, parser.feed_reasoning(" ok"))
    clock.now += 0.5
    feed_timed(tally, parser.feed("Answer"))  # first answer text ends the thinking
    clock.now += 7
    feed_timed(tally, parser.finish())
    tally.model_ended()
    assert tally.think_seconds == pytest.approx(2.0)


def test_think_seconds_while_still_thinking_and_without_streaming() -> None:
    clock = FakeClock()
    live = Tally(streaming=True, clock=clock)
    live.add(StreamChunk(ChunkKind.THINK, "so far"))
    clock.now += 3
    assert live.think_seconds == pytest.approx(3.0)  # the page shows it growing
    whole = Tally(streaming=False, clock=clock)
    whole.add(StreamChunk(ChunkKind.THINK, "all at once"))
    whole.model_ended()
    assert whole.think_seconds is None  # a whole answer arrives at once: not observable


def test_no_thinking_means_no_think_seconds() -> None:
    tally = Tally(streaming=True)
    feed_timed(tally, run(["Just an answer."]))
    tally.model_ended()
    assert tally.think_seconds is None
