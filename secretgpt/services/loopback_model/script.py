"""What the loopback model says: scripted replies, the demo answer and synthetic long answers."""

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

    @classmethod
    def of(cls, text: str = "", thinking: str = "", **kwargs: object) -> Reply:
        steps = [Step("chunk", thinking=t) for t in tokenize(thinking)] if thinking else []
        steps += [Step("chunk", content=t) for t in tokenize(text)]
        return cls(steps=steps, **kwargs)  # type: ignore[arg-type]

    def then(self, *steps: Step) -> Reply:
        self.steps.extend(steps)
        return self

    @property
    def text(self) -> str:
        return "".join(s.content for s in self.steps if s.kind == "chunk")

    @property
    def thinking(self) -> str:
        return "".join(s.thinking for s in self.steps if s.kind == "chunk")


def _last_user_message(request: dict) -> str:
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


DEMO_URL = "http://127.0.0.1:8080"


def demo_reply(request: dict, tokens_per_second: float = 40.0, app_url: str = DEMO_URL) -> Reply:
    """The offline demo model: a plausible answer with reasoning, a table and a code block that
    calls the app at `app_url`.

    Continue: the model only sees the request. When the conversation ends with an answer of its
    own (what Continue sends) and that answer is the start of what it would say to this question,
    it says only the rest, without reasoning again; an answer it did not write gets a short
    sentence saying so, never the script glued on.
    """
    question = " ".join(_last_user_message(request).split())[:120] or "your message"
    turns = sum(1 for m in request.get("messages") or [] if m.get("role") == "user")
    thinking, text = _demo_script(question, turns, app_url)
    messages = request.get("messages") or []
    if messages and messages[-1].get("role") == "assistant":
        partial = str(messages[-1].get("content") or "")
        rest = text[len(partial):] if text.startswith(partial) else \
            "\n\n*(The offline demo model can only continue its own answers, and this one is not.)*"
        thinking = ""
    else:
        rest = text
    reply = Reply.of(rest, thinking, tokens_per_second=tokens_per_second, model="demo")
    reply.first_token_delay = min(0.4, 10 / tokens_per_second)
    return reply


def _demo_script(question: str, turns: int, app_url: str) -> tuple[str, str]:
    thinking = (
        f"The user asked: \"{question}\". This is the offline demo model, so I can't really answer, "
        "but I can show how a streamed answer looks. I'll give a short explanation, a table "
        "comparing the streaming controls, a formula, and a small code example of the HTTP API."
    )
    text = (
        f"**This is the offline demo model** — no `SECRET_AI_API_KEY` is set, so nothing left this machine. "
        f"You wrote: *{question}* (message {turns} in this conversation).\n\n"
        "With a Secret AI key, answers come from a confidential VM instead. Meanwhile, here is what "
        "SecretGPT does while an answer streams:\n\n"
        "| Control | What it does |\n"
        "| --- | --- |\n"
        "| Stop | Closes the connection to the model at once; the partial answer is kept |\n"
        "| Pause | Holds the display; the model keeps writing into a buffer |\n"
        "| Resume | Catches up with everything written while paused |\n\n"
        "Math renders too: the pace of $n$ tokens in $t$ seconds is $r = \\frac{n}{t}$, and\n\n"
        "$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$\n\n"
        "Programs get the same stream as Server-Sent Events:\n\n"
        "```python\n"
        "import httpx\n\n"
        f"with httpx.stream(\"POST\", \"{app_url}/api/v1/chat/stream\",\n"
        "                  headers={\"Authorization\": f\"Bearer {token}\"},\n"
        "                  json={\"message\": \"hi\"}) as response:\n"
        "    for line in response.iter_lines():\n"
        "        print(line)\n"
        "```\n\n"
        "1. Reasoning streams into its own block above the answer.\n"
        "2. The answer is rendered as Markdown while it streams.\n"
        "3. Everything is kept in your conversation history.\n"
    )
    return thinking, text


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
