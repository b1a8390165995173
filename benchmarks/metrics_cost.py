"""What the metrics cost per token: the hub producing real answers from the loopback model (a
thread of this process, OpenAI-compatible API, as fast as the socket takes them), with the
metrics observer (`HubMetrics`) and without it (`Unobserved`), in alternating rounds.

    .venv/bin/python benchmarks/metrics_cost.py                  # 8 rounds each, 4 x 2 000-token answers a round
    .venv/bin/python benchmarks/metrics_cost.py --rounds 4 --tokens 500

The figure is the CPU of the thread running the hub (`time.thread_time()`: the model server's
thread is not in it) per token, median over rounds; each answer is also followed by a reader that
attaches and detaches as an SSE client does. Then the observer's own cost per answer (its calls
alone, timed in a loop) and one scrape (`render()`) after the answers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._loopback import API_KEY, MODEL, LoopbackThread
from secretgpt.config import load_settings
from secretgpt.hub.chat_hub import ChatHub
from secretgpt.metrics import HubMetrics
from secretgpt.services.secret_ai import Catalog, ModelInfo, SecretAIService
from secretgpt.storage import SqlConversationStore, database_url


async def one_round(hub: ChatHub, prompt: str, answers: int) -> float:
    """Thread CPU seconds for `answers` answers at once, each followed to its end by one reader."""

    async def answer() -> None:
        view = await hub.send(prompt, owner="bench", streaming=True)
        await view.attach()
        try:
            await view.wait()
        finally:
            await view.detach()

    started = time.thread_time()
    await asyncio.gather(*(answer() for _ in range(answers)))
    return time.thread_time() - started


async def measure(args: argparse.Namespace, model: LoopbackThread, data: Path) -> dict[str, list[float]]:
    prompt = model.add_plan("metrics", [f" w{i}" for i in range(args.tokens)], None)
    settings = load_settings(data_dir=data, attestation_policy="warn", max_concurrent_streams=args.answers,
                             stream_idle_timeout=30.0)
    service = SecretAIService(Catalog(models=[ModelInfo(name=MODEL, url=model.url, protocol="openai")]),
                              read_timeout=30.0)
    store = await SqlConversationStore.open(database_url(data))
    figures: dict[str, list[float]] = {"with metrics": [], "without": []}
    hubs = {"with metrics": ChatHub(settings, service, store, observer=HubMetrics()),
            "without": ChatHub(settings, service, store)}
    try:
        for hub in hubs.values():
            await one_round(hub, prompt, 1)  # warm-up: connections, caches, first imports
        for round_ in range(args.rounds):
            order = list(hubs.items()) if round_ % 2 == 0 else list(hubs.items())[::-1]  # no side always first
            for name, hub in order:
                gc.collect()  # neither side pays for the other's garbage
                seconds = await one_round(hub, prompt, args.answers)
                figures[name].append(seconds / (args.answers * args.tokens))
    finally:
        for hub in hubs.values():
            await hub.shutdown()
        await service.aclose()
        await store.close()
    return figures


def observer_cost(tokens: int) -> tuple[float, float]:
    """(µs of the observer's calls per answer, µs per scrape), on a real ended record."""
    from datetime import UTC, datetime, timedelta

    from secretgpt.records import StreamRecord, StreamStatus

    now = datetime.now(UTC)
    record = StreamRecord(stream_id="s", conversation_id="c", owner="o", model=MODEL, status=StreamStatus.COMPLETED,
                          text="x", chunks=tokens, prompt_tokens=12, completion_tokens=tokens,
                          time_to_first_token=0.2, started_at=now - timedelta(seconds=20), ended_at=now)
    metrics = HubMetrics()

    def calls() -> None:
        metrics.stream_started()
        metrics.reader_attached()
        metrics.reader_detached()
        metrics.stream_ended(record)

    n = 20_000
    per_answer = min(timeit.repeat(calls, number=n, repeat=5)) / n
    metrics.host_attested("https://host.example:21434", "verified")
    per_scrape = min(timeit.repeat(metrics.render, number=500, repeat=5)) / 500
    return per_answer * 1e6, per_scrape * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--answers", type=int, default=4, help="answers at once in a round")
    parser.add_argument("--tokens", type=int, default=2000, help="tokens per answer")
    args = parser.parse_args()
    model = LoopbackThread("openai").start()
    os.environ["SECRET_AI_API_KEY"] = API_KEY  # both model clients read the key from the environment
    try:
        with tempfile.TemporaryDirectory(prefix="secretgpt-metrics-bench-") as data:
            figures = asyncio.run(measure(args, model, Path(data)))
    finally:
        model.stop()
    print(f"{args.rounds} rounds of {args.answers} answers x {args.tokens} tokens (hub thread CPU per token):")
    for name, values in figures.items():
        print(f"  {name:13s} min {min(values) * 1e6:6.2f}  median {statistics.median(values) * 1e6:6.2f}  "
              f"max {max(values) * 1e6:6.2f} µs/token")
    # On a shared machine the least disturbed round (the minimum) is the steadiest figure.
    for label, pick in (("min", min), ("median", statistics.median)):
        base, with_ = pick(figures["without"]), pick(figures["with metrics"])
        print(f"  difference of the {label}s: {(with_ - base) * 1e6:+.2f} µs/token ({(with_ - base) / base * 100:+.1f} %)")
    per_answer, per_scrape = observer_cost(args.tokens)
    print(f"observer calls per answer: {per_answer:.1f} µs = {per_answer / args.tokens * 1000:.2f} ns/token at "
          f"{args.tokens} tokens ({per_answer / 100 * 1000:.0f} ns/token at 100 tokens)")
    print(f"one scrape (render of /metrics): {per_scrape:.0f} µs")


if __name__ == "__main__":
    main()
