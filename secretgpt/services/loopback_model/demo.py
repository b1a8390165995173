"""The offline demo model: what `python main.py` answers without an API key.

It shows what the app is for, so it behaves like a model where that can be seen: it stops at
`max_tokens` (finish reason `length`; reasoning counts, as on vLLM), temperature and seed choose
its wording (temperature 0: always the same; a seed: the same variant every time), it says which
settings it received, and asked for something long ("long", "story", "essay") it writes for well
over 30 s, so Pause and Stop can be tried. Every answer says plainly that it is the demo.

It is deterministic: the same question with the same settings gets the same answer. That is what
lets Continue work: the model only sees the request, so it recomputes its answer and, when the
conversation ends with the start of it, says only the rest.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from dataclasses import dataclass
from typing import Any

from .demo_text import CLOSINGS, ESSAY, OPENINGS, STORY, table_math_and_code
from .script import Reply, tokenize

DEMO_URL = "http://127.0.0.1:8080"
LONG_TOKENS = 1300  # at the default 40 tokens a second: over 30 s
_LONG = re.compile(r"\b(long|longer|story|stories|essay|essays)\b", re.IGNORECASE)
_STORY = re.compile(r"\b(story|stories)\b", re.IGNORECASE)
NOT_MINE = "\n\n*(The offline demo model can only continue its own answers, and this one is not.)*"
SHORT_BUDGET = 150  # below this many max tokens, the reasoning is one sentence, so some answer fits


@dataclass(frozen=True)
class Asked:
    """What the request asks, whichever API it came over (OpenAI-compatible or Ollama's)."""

    question: str
    turns: int
    received: str = ""  # what came with the last question: "1 image (PNG, 12 KB) and 2 files"
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None

    @classmethod
    def of(cls, request: dict[str, Any]) -> Asked:
        messages = request.get("messages") or []
        last = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
        text, images = message_parts(last)
        question = _FILE_BLOCK.sub("", text)
        files = len(_FILE_BLOCK.findall(text))
        options = request.get("options") if isinstance(request.get("options"), dict) else {}

        def number(*names: str) -> Any:
            return next((v for source in (request, options) for n in names
                         if isinstance(v := source.get(n), (int, float)) and not isinstance(v, bool)), None)

        max_tokens = number("max_tokens", "max_completion_tokens", "num_predict")
        seed = number("seed")
        return cls(question=" ".join(question.split())[:120] or "your message",
                   turns=sum(1 for m in messages if m.get("role") == "user"), received=received(images, files),
                   max_tokens=int(max_tokens) if max_tokens is not None and max_tokens > 0 else None,
                   temperature=number("temperature"), top_p=number("top_p"),
                   seed=int(seed) if seed is not None else None)

    @property
    def long(self) -> bool:
        return bool(_LONG.search(self.question))

    @property
    def pool(self) -> int:
        """How many wordings there are to choose from: temperature is how adventurous it may be."""
        if self.temperature == 0:
            return 1
        return len(OPENINGS) if self.temperature is not None and self.temperature > 1 else 3

    @property
    def variant(self) -> int:
        return self.rng().randrange(self.pool) if self.pool > 1 else 0

    def rng(self) -> random.Random:
        # At temperature 0 only the question counts (greedy decoding ignores the seed); otherwise a
        # seed decides alone, and without one the question, its place and the temperature do.
        if self.temperature == 0:
            return random.Random(self.question)
        return random.Random(self.seed if self.seed is not None else f"{self.question}|{self.turns}|{self.temperature}")

    def settings(self) -> str:
        given = [f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
                 for name, value in (("temperature", self.temperature), ("top p", self.top_p),
                                     ("max tokens", self.max_tokens), ("seed", self.seed)) if value is not None]
        return ", ".join(given) if given else "none (the model's defaults)"

    def how_chosen(self) -> str:
        which = f"variant {self.variant + 1} of {self.pool}"
        if self.pool == 1:
            return "At temperature 0 it always answers with the same words."
        if self.seed is not None:
            return f"Seed {self.seed} picks {which}: the same seed, the same answer."
        return (f"This question picked {which}; set a seed, or a temperature above 1 for livelier wording, to see "
                "another.")


_FILE_BLOCK = re.compile(r"^--- Attached file: .*?^--- End of [^\n]*---$", re.MULTILINE | re.DOTALL)


def message_parts(message: dict[str, Any]) -> tuple[str, list[bytes]]:
    """A message's text and images, as either API sends them: OpenAI content parts (`image_url`
    data: URLs) or Ollama's `images` (base64)."""
    content, images = message.get("content", ""), list(message.get("images") or [])
    text = content if isinstance(content, str) else ""
    if isinstance(content, list):
        text = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
        for part in content:
            url = part.get("image_url") if isinstance(part, dict) and part.get("type") == "image_url" else None
            url = url.get("url") if isinstance(url, dict) else url
            if isinstance(url, str):
                images.append(url.partition(",")[2] if url.startswith("data:") else url)
    decoded = []
    for image in images:
        try:
            decoded.append(base64.b64decode(str(image), validate=True))
        except (binascii.Error, ValueError):
            decoded.append(b"")
    return text, decoded


def received(images: list[bytes], files: int) -> str:
    kinds = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"RIFF": "WebP"}
    said = []
    if images:
        described = ", ".join(f"{next((k for m, k in kinds.items() if i.startswith(m)), 'unknown type')}, "
                              f"{max(1, round(len(i) / 1000))} KB" for i in images)
        said.append(f"{len(images)} image{'s' if len(images) != 1 else ''} ({described})")
    if files:
        said.append(f"{files} file{'s' if files != 1 else ''}")
    return " and ".join(said)


def demo_reply(request: dict[str, Any], tokens_per_second: float = 40.0, app_url: str = DEMO_URL) -> Reply:
    """The demo's answer to one chat request (see the module's docstring)."""
    asked = Asked.of(request)
    thinking, text = _script(asked, app_url, tokens_per_second)
    messages = request.get("messages") or []
    if messages and messages[-1].get("role") == "assistant":
        partial = str(messages[-1].get("content") or "")
        rest = text[len(partial):] if text.startswith(partial) else NOT_MINE
        thinking = ""  # it does not think its way to the start again
    else:
        rest = text
    reply = Reply.of(rest, thinking, tokens_per_second=tokens_per_second, model="demo").capped(asked.max_tokens)
    reply.first_token_delay = min(0.4, 10 / tokens_per_second)
    return reply


def _script(asked: Asked, app_url: str, tokens_per_second: float) -> tuple[str, str]:
    """(reasoning, text) of the whole answer."""
    rng = asked.rng()
    variant = asked.variant
    intro = (f"{OPENINGS[variant]} You wrote: *{asked.question}* (message {asked.turns} in this conversation).\n\n"
             f"Settings it received: {asked.settings()}. {asked.how_chosen()}")
    if asked.received:
        intro += (f"\n\nI received {asked.received} with your message (the demo cannot look inside them; a vision "
                  "or document-reading model would).")
    if asked.max_tokens is not None:
        intro += (f" With max tokens {asked.max_tokens}, the answer stops there (finish reason `length`), "
                  "and **Continue** carries on.")
    if asked.long:
        body = _long_body(asked, rng, tokens_per_second)
    else:
        body = table_math_and_code(app_url)
    return _reasoning(asked), f"{intro}\n\n{body}\n\n{CLOSINGS[variant]}\n"


def _reasoning(asked: Asked) -> str:
    if asked.max_tokens is not None and asked.max_tokens < SHORT_BUDGET:
        return f"Only {asked.max_tokens} tokens to spend, reasoning included: I'll be brief."
    plan = ("a long piece, long enough to try Pause and Stop" if asked.long else
            "a short explanation, a table comparing the streaming controls, a formula, and a small code example "
            "of the HTTP API")
    return (f"The user asked: \"{asked.question}\". This is the offline demo model, so I can't really answer, "
            f"but I can show how a streamed answer looks: {plan}. Settings: {asked.settings()}.")


def _long_body(asked: Asked, rng: random.Random, tokens_per_second: float) -> str:
    """Parts of six sentences until the answer is long: a story is told in order (again and again),
    an essay draws its sentences afresh for each part."""
    story = bool(_STORY.search(asked.question))
    parts: list[str] = []
    count = 0
    while count < LONG_TOKENS:
        if story:
            start = len(parts) * 6
            sentences = [STORY[(start + i) % len(STORY)] for i in range(6)]
        else:
            sentences = rng.sample(ESSAY, 6)
        block = f"### {'Chapter' if story else 'Part'} {len(parts) + 1}\n\n" + " ".join(sentences)
        parts.append(block)
        count += len(tokenize(block)) + 1
    lead = (f"{'A story' if story else 'An essay'} of about {count:,} tokens, some {count / tokens_per_second:.0f} s "
            "at this pace: long enough to try **Pause** (the model keeps writing into a buffer), **Resume** and "
            "**Stop** while it streams.")
    return lead + "\n\n" + "\n\n".join(parts)
