"""Stored history for the benchmark: N conversations of M messages, as a SecretGPT JSON export.

The file is built with the app's own export models (`secretgpt.storage.export`), so it is
validated against the real schema before it is written, and the app imports it exactly as it
would a user's export. Each assistant message carries a full stream record (model, times,
token counts, "Thought for N s") like an answer the app saved itself; most have reasoning.

Every conversation has a unique title (`Bench chat 017 · …`) and its last answer ends with a
unique word (`CONVEND017`), so the page can tell which conversation it is showing and whether
its last message is there.

    /work/venv/bin/python benchmarks/_seed.py out.json --conversations 200 --messages 50
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from secretgpt.records import StreamRecord, StreamStatus  # noqa: E402
from secretgpt.storage.export import ExportedConversation, ExportedMessage, export_many  # noqa: E402

MODEL = "deepseek-r1:70b"
_RECORD_COLUMNS = {"stream_id", "conversation_id", "status"}  # as the SQL store keeps them

_WORDS = (
    "the a of to and in is that for it with as on this be are by an or from at which can not we you "
    "your if when then so but each one all more also only into about than other its they them these "
    "secret confidential enclave model stream token answer reasoning browser server latency buffer "
    "render markdown table code network attestation privacy compute private encrypted request response "
    "client session cache queue worker thread process memory storage database index query schema "
    "migration transaction lock timeout retry backoff error exception handler event loop callback "
    "future task scheduler message conversation history export import owner cookie header payload "
    "frame socket connection proxy certificate key signature hash verify trust boundary policy "
    "function argument parameter return value result variable constant type class method module "
    "package dependency version release build test benchmark profile measure throughput quickly "
    "carefully usually often rarely always never first second finally however therefore instead"
).split()
_TOPICS = [
    "Rust lifetimes", "SQLite WAL mode", "TLS attestation", "asyncio cancellation", "Kubernetes probes",
    "PostgreSQL indexes", "React rendering", "vector databases", "LLM quantization", "Python packaging",
    "CSV parsing", "OAuth scopes", "WebSocket backpressure", "cron schedules", "Docker layers",
    "git rebase", "CUDA memory", "HTTP caching", "regex backtracking", "unit test fixtures",
]
_LANGS = ["python", "rust", "bash", "sql", "javascript", "yaml"]


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        i = rng.randrange(n)
        words[i] = f"`{words[i]}`"
    if rng.random() < 0.25:
        i = rng.randrange(n)
        words[i] = f"**{words[i]}**"
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "?", ":"])


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng, rng.randint(8, 22)) for _ in range(rng.randint(2, 5)))


def _block(rng: random.Random) -> str:
    kind = rng.choices(["p", "ul", "ol", "code", "table", "h", "quote"], [6, 2, 2, 2, 1, 1, 1])[0]
    if kind == "p":
        return _paragraph(rng)
    if kind == "ul":
        return "\n".join(f"- {_sentence(rng, rng.randint(4, 12))}" for _ in range(rng.randint(3, 6)))
    if kind == "ol":
        return "\n".join(f"{i}. {_sentence(rng, rng.randint(4, 12))}" for i in range(1, rng.randint(3, 6) + 1))
    if kind == "code":
        lang = rng.choice(_LANGS)
        lines = [f"{rng.choice(_WORDS)}_{i} = {rng.choice(_WORDS)}({rng.randint(0, 99)})"
                 for i in range(rng.randint(3, 10))]
        return f"```{lang}\n" + "\n".join(lines) + "\n```"
    if kind == "table":
        rows = "\n".join(f"| {rng.choice(_WORDS)} | {rng.randint(1, 999)} | {_sentence(rng, 4)} |"
                         for _ in range(rng.randint(2, 5)))
        return "| Name | Value | Note |\n| --- | ---: | --- |\n" + rows
    if kind == "h":
        return f"### {_sentence(rng, rng.randint(2, 5)).rstrip('.?:')}"
    return "> " + _sentence(rng, rng.randint(8, 16))


def answer_markdown(rng: random.Random, target_chars: int) -> str:
    blocks = [_paragraph(rng)]
    while sum(len(b) + 2 for b in blocks) < target_chars:
        blocks.append(_block(rng))
    return "\n\n".join(blocks)


def _question(rng: random.Random, topic: str) -> str:
    q = rng.choice([
        f"How does {topic} affect {rng.choice(_WORDS)} {rng.choice(_WORDS)}?",
        f"Can you show an example of {topic} with a {rng.choice(_WORDS)}?",
        f"Why would the {rng.choice(_WORDS)} fail when I change {topic}?",
        f"Compare two ways to handle {topic} in production.",
        f"Explain {topic} step by step.",
    ])
    if rng.random() < 0.5:
        q += " " + _sentence(rng, rng.randint(6, 20))
    return q


def conversation(index: int, n_messages: int, rng: random.Random, updated_at: datetime) -> ExportedConversation:
    topic = rng.choice(_TOPICS)
    title = f"Bench chat {index:03d} · {topic}"
    n_turns = n_messages // 2
    start = updated_at - timedelta(minutes=3 * n_turns)
    messages: list[ExportedMessage] = []
    parent: str | None = None
    at = start
    for turn in range(n_turns):
        user_id = uuid.uuid4().hex
        question = title if turn == 0 else _question(rng, topic)
        messages.append(ExportedMessage(id=user_id, parent_id=parent, role="user", content=question,
                                        created_at=at, updated_at=at))
        text = answer_markdown(rng, rng.choice([rng.randint(300, 900), rng.randint(600, 2200)]))
        if turn == n_turns - 1:
            text += f"\n\nCONVEND{index:03d}"
        think = "\n\n".join(_paragraph(rng) for _ in range(rng.randint(1, 3))) if rng.random() < 0.8 else ""
        think_seconds = round(rng.uniform(0.4, 25.0), 1) if think else None
        ttft = round(rng.uniform(0.2, 1.5), 2)
        duration = (think_seconds or 0) + len(text) / rng.uniform(150, 400)
        started = at + timedelta(seconds=1)
        ended = started + timedelta(seconds=ttft + duration)
        stream_id = uuid.uuid4().hex
        completion = (len(text) + len(think)) // 4
        record = StreamRecord(stream_id=stream_id, conversation_id="seed", owner="seed", model=MODEL,
                              status=StreamStatus.COMPLETED, text=text, think=think, started_at=started,
                              first_token_at=started + timedelta(seconds=ttft), ended_at=ended,
                              time_to_first_token=ttft, think_seconds=think_seconds, chunks=completion,
                              prompt_tokens=200 + turn * 400, completion_tokens=completion, done_reason="stop")
        meta = {k: v for k, v in record.metadata().items() if k not in _RECORD_COLUMNS}
        answer_id = uuid.uuid4().hex
        messages.append(ExportedMessage(id=answer_id, parent_id=user_id, role="assistant", content=text,
                                        think=think, created_at=started, updated_at=ended, stream_id=stream_id,
                                        status=StreamStatus.COMPLETED, metadata=meta))
        parent = answer_id
        at = ended + timedelta(seconds=rng.randint(20, 120))
    return ExportedConversation(id=uuid.uuid4().hex, title=title, created_at=start, updated_at=updated_at,
                                current_leaf_id=parent, messages=messages)


def build_export(n_conversations: int, n_messages: int, seed: int = 4) -> dict:
    """The export document, newest conversation first (index 0 = newest)."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    conversations = [conversation(i, n_messages, rng, now - timedelta(hours=i + 1))
                     for i in range(n_conversations)]
    return export_many(conversations)


def write_export(path: Path, n_conversations: int, n_messages: int) -> dict:
    """Write the file; returns figures about it."""
    doc = build_export(n_conversations, n_messages)
    path.write_text(json.dumps(doc, ensure_ascii=False))
    answers = [m for c in doc["conversations"] for m in c["messages"] if m["role"] == "assistant"]
    sizes = sorted(len(m["content"]) for m in answers)
    return {"file_bytes": path.stat().st_size, "conversations": len(doc["conversations"]),
            "messages": sum(len(c["messages"]) for c in doc["conversations"]),
            "answer_chars_min": sizes[0], "answer_chars_median": sizes[len(sizes) // 2], "answer_chars_max": sizes[-1],
            "answers_with_reasoning": sum(1 for m in answers if m["think"]),
            "titles": [c["title"] for c in doc["conversations"]]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--messages", type=int, default=50)
    a = parser.parse_args()
    info = write_export(Path(a.out), a.conversations, a.messages)
    info.pop("titles")
    print(json.dumps(info))
