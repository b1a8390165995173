"""What the loopback model says: scripted replies and synthetic long answers (the demo model's
answers are in demo.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

StepKind = Literal["chunk", "sleep", "error", "drop", "stall"]

_TOKEN_RE = re.compile(r"\s*\S{1,6}|\s+")


def tokenize(text: str) -> list[str]:
    """Split text into token-sized pieces (a word or ~6 characters, with leading space)."""
    return _TOKEN_RE.findall(text)


@dataclass(slots=True)
class Step:
    kind: StepKind
    content: str = ""
    thinking: str = ""
    seconds: float = 0.0


@dataclass
class Reply:
    """A scripted answer. `steps` run in order; pacing spreads chunks at `tokens_per_second`."""

    steps: list[Step] = field(default_factory=list)
    status: int = 200
    error_body: str = ""
    tokens_per_second: float | None = None  # None: as fast as the socket takes them
    first_token_delay: float = 0.0
    # Old servers put reasoning inline as <think>…</think>; new ones use a field: Ollama's
    # `message.thinking` when the request asks for it (`think: true`), and on the OpenAI-compatible
    # API `delta.reasoning_content` (vLLM's reasoning parser) or `delta.reasoning` (newer vLLM).
    inline_think: bool = False
    reasoning_field: Literal["reasoning_content", "reasoning"] = "reasoning_content"
    # With `status`: the error's words, dressed as each protocol's servers do (Ollama, LiteLLM/vLLM).
    # `error_body` instead sends exactly that body.
    error_message: str = ""
    model: str = "loopback"
    # Why the answer ended, as the wire says it: "stop", or "length" when cut at max tokens.
    finish_reason: str = "stop"

    @classmethod
    def of(cls, text: str = "", thinking: str = "", **kwargs: object) -> Reply:
        steps = [Step("chunk", thinking=t) for t in tokenize(thinking)] if thinking else []
        steps += [Step("chunk", content=t) for t in tokenize(text)]
        return cls(steps=steps, **kwargs)  # type: ignore[arg-type]

    def capped(self, max_tokens: int | None) -> Reply:
        """At most `max_tokens` chunks, reasoning counted (as vLLM counts it); cut: finish reason "length"."""
        chunks = [i for i, step in enumerate(self.steps) if step.kind == "chunk"]
        if max_tokens is not None and len(chunks) > max_tokens:
            self.steps = self.steps[: chunks[max_tokens]]
            self.finish_reason = "length"
        return self

    def then(self, *steps: Step) -> Reply:
        self.steps.extend(steps)
        return self

    @property
    def text(self) -> str:
        return "".join(s.content for s in self.steps if s.kind == "chunk")

    @property
    def thinking(self) -> str:
        return "".join(s.thinking for s in self.steps if s.kind == "chunk")


_WORDS = (
    "secret confidential enclave model stream token answer reasoning browser server latency "
    "buffer render markdown table code network attestation privacy compute private encrypted"
).split()


def synthetic_markdown(n_tokens: int, seed: int = 7) -> list[str]:
    """A long, realistic mix of paragraphs, lists, tables and code, as exactly n tokens."""
    import random

    rng = random.Random(seed)
    tokens: list[str] = []

    def words(count: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(count))

    section = 0
    while len(tokens) < n_tokens:
        section += 1
        kind = section % 4
        if kind == 1:
            block = f"## Part {section}\n\n{words(40).capitalize()}. **{words(3)}** and *{words(2)}*, {words(30)}.\n\n"
        elif kind == 2:
            block = "".join(f"- {words(8)} `{rng.choice(_WORDS)}`\n" for _ in range(5)) + "\n"
        elif kind == 3:
            rows = "".join(f"| {rng.choice(_WORDS)} | {rng.randint(1, 999)} | {words(4)} |\n" for _ in range(5))
            block = f"| Name | Value | Note |\n| --- | ---: | --- |\n{rows}\n"
        else:
            body = "".join(f"    result = compute('{rng.choice(_WORDS)}', {i})\n" for i in range(6))
            block = f"```python\ndef step_{section}():\n{body}    return result\n```\n\n"
        tokens.extend(tokenize(block))
    return tokens[:n_tokens]
