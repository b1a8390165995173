"""Many API streams at once through real `python main.py` processes: the gaps between a stream's
events, each event's latency from the model server's write to the client's read, the app's CPU
(cores, and per 1 000 tokens) and memory — in one process, or across instances on Redis.

    .venv/bin/python benchmarks/api_load.py                       # 50 streams x 1 500 tokens at 50 tok/s, one instance
    .venv/bin/python benchmarks/api_load.py --bus redis           # the same on Redis + PostgreSQL, read where started
    .venv/bin/python benchmarks/api_load.py --bus redis --read-on b   # started on A, read on B (every event via Redis)
    .venv/bin/python benchmarks/api_load.py --streams 200 --bus redis --split   # 200 streams across two instances
    .venv/bin/python benchmarks/api_load.py --streams 1 --tokens 3000 --rate 100  # one long stream (latency)

The model server (the project's loopback server, in a thread of this process) writes tokens
`w<stream>_<i>` at the given rate; the client (this process, httpx) reads every stream's SSE.
Redis and PostgreSQL are throwaway servers from Debian's packages (tests/support/servers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measured_app import Sampler  # noqa: E402
from secretgpt.services.loopback_model import LoopbackModelServer, Reply, Step  # noqa: E402
from tests.support.app_process import MAIN, AppProcess  # noqa: E402
from tests.support.servers import postgres_server, redis_server  # noqa: E402

MODEL, KEY, TOKEN = "load-model", "load-key", "load-token"
_TOKEN_RE = re.compile(rb"w(\d+)_(\d+)")


class Model:
    """The loopback model server on its own thread; when each token went out, by (stream, index)."""

    def __init__(self, tokens: int, rate: float) -> None:
        self.tokens, self.rate = tokens, rate
        self.written: dict[tuple[int, int], float] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.server = LoopbackModelServer(self._reply, api_key=KEY, models=[MODEL], protocols={"openai"},
                                          written=self._on_written)

    def _reply(self, request: dict) -> Reply:
        n = int(re.search(r"load:(\d+)", request["messages"][-1]["content"]).group(1))
        return Reply(steps=[Step("chunk", content=f" w{n}_{i}") for i in range(self.tokens)],
                     tokens_per_second=self.rate)

    def _on_written(self, data: bytes) -> None:
        now = time.time()
        for stream, index in _TOKEN_RE.findall(data):
            self.written.setdefault((int(stream), int(index)), now)

    def start(self) -> Model:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self


async def read_stream(n: int, start_on: httpx.AsyncClient, read_on: httpx.AsyncClient | None,
                      got: dict[int, list[tuple[float, str]]]) -> None:
    """POST on one instance; read there, or (read_on) re-attach on the other after the start."""
    received = got[n] = []
    async with start_on.stream("POST", "/api/v1/chat/stream", json={"message": f"load:{n}"}) as response:
        lines = response.aiter_lines()
        async for line in lines:
            if line.startswith("data: "):
                stream_id = json.loads(line[6:])["stream_id"]
                break
        if read_on is None:
            await _frames(lines, received)
            return
    async with read_on.stream("GET", f"/api/v1/chat/stream/{stream_id}", headers={"Last-Event-ID": "1"}) as again:
        await _frames(again.aiter_lines(), received)


async def _frames(lines, received: list[tuple[float, str]]) -> None:
    async for line in lines:
        if line.startswith("data: "):
            data = json.loads(line[6:])
            received.append((time.time(), data.get("content", "") if data["type"] == "text" else data["type"]))
            if data["type"] in ("done", "error", "cancelled"):
                return


def percentiles(values: list[float]) -> str:
    if not values:
        return "—"
    q = statistics.quantiles(values, n=1000, method="inclusive")
    return (f"p50 {statistics.median(values) * 1000:6.1f} ms  p99 {q[989] * 1000:6.1f} ms  "
            f"p99.9 {q[998] * 1000:6.1f} ms  max {max(values) * 1000:6.1f} ms")


async def run(args: argparse.Namespace, apps: list[AppProcess], model: Model) -> None:
    procs = [psutil.Process(app.pid) for app in apps]
    samplers = [Sampler(p).start() for p in procs]
    clients = [app.client(TOKEN, limits=httpx.Limits(max_connections=1000))
               for app in apps]
    got: dict[int, list[tuple[float, str]]] = {}
    rss_before = [p.memory_info().rss for p in procs]
    started = time.time()
    cpu_before = [s.sample()[1] for s in samplers]
    jobs = []
    for n in range(args.streams):
        start_on = clients[n % len(clients)] if args.split else clients[0]
        read_on = clients[1] if args.read_on == "b" and len(clients) > 1 else None
        jobs.append(read_stream(n, start_on, read_on, got))
    await asyncio.gather(*jobs)
    ended = time.time()
    cpu = sum(s.sample()[1] for s in samplers) - sum(cpu_before)
    await asyncio.sleep(2)
    rss_after = [p.memory_info().rss for p in procs]
    for s in samplers:
        s.stop()
    for c in clients:
        await c.aclose()
    report(args, got, model, cpu, ended - started, rss_before, rss_after, samplers, started, ended)


def report(args, got, model, cpu, wall, rss_before, rss_after, samplers, started, ended) -> None:  # noqa: ANN001
    gaps, latencies, tokens, complete = [], [], 0, 0
    for n, frames in got.items():
        times = [t for t, _ in frames]
        gaps += [b - a for a, b in zip(times, times[1:])]
        for at, content in frames:
            for stream, index in _TOKEN_RE.findall(content.encode()):
                tokens += 1
                sent = model.written.get((int(stream), int(index)))
                if sent is not None:
                    latencies.append(at - sent)
        complete += frames[-1][1] == "done" if frames else 0
    peak = sum(s.peak_rss(started, ended) for s in samplers)
    where = {"local": "one instance, in-process bus", "redis": "Redis + PostgreSQL"}[args.bus]
    if args.bus == "redis":
        where += ", split across A and B" if args.split else (", started on A, read on B" if args.read_on == "b"
                                                               else ", read where started")
    print(f"{args.streams} streams x {args.tokens} tokens at {args.rate:g} tok/s — {where}")
    print(f"  complete        {complete}/{args.streams}; {tokens} tokens in {wall:.1f} s")
    print(f"  gaps            {percentiles(gaps)}")
    print(f"  event latency   {percentiles(latencies)}  (model write → client read)")
    print(f"  app CPU         {cpu / wall:.2f} cores; {cpu / max(tokens, 1) * 1000 * 1000:.0f} ms per 1 000 tokens")
    print(f"  app RSS         {sum(rss_before) / 1e6:.0f} MB before, {peak / 1e6:.0f} MB peak, "
          f"{sum(rss_after) / 1e6:.0f} MB after (+{(sum(rss_after) - sum(rss_before)) / 1e6:.1f} MB); "
          f"{(peak - sum(rss_before)) / 1e6 / max(args.streams, 1):.2f} MB per stream at the peak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--bus", choices=["local", "redis"], default="local")
    parser.add_argument("--read-on", choices=["a", "b"], default="a")
    parser.add_argument("--split", action="store_true", help="start the streams on A and B in turn")
    parser.add_argument("--profile", type=Path, help="run the (first) app under cProfile, stats to this file")
    args = parser.parse_args()
    model = Model(args.tokens, args.rate).start()
    env = {"MAX_CONCURRENT_STREAMS": str(args.streams + 10), "SECRETGPT_API_TOKEN": TOKEN,
           "ATTESTATION_POLICY": "warn", "STREAM_DETACH_GRACE": "60", "STREAM_TIMEOUT": "3600"}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        count = 1
        if args.bus == "redis":
            redis = stack.enter_context(redis_server())
            postgres = stack.enter_context(postgres_server())
            env |= {"SECRETGPT_REDIS_URL": redis.url, "SECRETGPT_DATABASE_URL": postgres.create_database("load"),
                    "SECRETGPT_STORAGE_SECRET": "load"}
            count = 2
        profiled = ["-m", "cProfile", "-o", str(args.profile.resolve()), str(MAIN)] if args.profile else None
        apps = [AppProcess(Path(tmp) / f"app{i}" / "data", Path(tmp) / f"app{i}" / "work", model_url=model.server.url,
                           model=MODEL, model_api_key=KEY, env=env, command=profiled if i == 0 else None)
                for i in range(count)]

        async def go() -> None:
            await asyncio.gather(*(app.start() for app in apps))
            try:
                await run(args, apps, model)
            finally:
                for app in apps:
                    await app.terminate(30, signal.SIGINT if args.profile else signal.SIGTERM)
        asyncio.run(go())


if __name__ == "__main__":
    main()
