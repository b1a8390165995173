"""Many API streams at once through real `python main.py` processes: the gaps between a stream's
events, each event's latency from the model server's write to the client's read, the app's CPU
(cores, per 1 000 tokens, and against a bare httpx client reading the same streams) and memory —
in one process, or across instances on Redis.

    .venv/bin/python benchmarks/api_load.py                       # 50 streams x 1 500 tokens at 50 tok/s, one instance
    .venv/bin/python benchmarks/api_load.py --bus redis           # the same on Redis + PostgreSQL, read where started
    .venv/bin/python benchmarks/api_load.py --bus redis --read-on b   # started on A, read on B (every event via Redis)
    .venv/bin/python benchmarks/api_load.py --streams 200 --bus redis --split   # 200 streams across two instances
    .venv/bin/python benchmarks/api_load.py --streams 1 --tokens 3000 --rate 100  # one long stream (latency)
    .venv/bin/python benchmarks/api_load.py --tree ../old-checkout --floor     # then another checkout's app; the floor

The model server (the project's loopback server, `_load_model.py`) and the bare-client floor
(`_load_floor.py`) run in processes of their own; the client reading the app's SSE is this one.
Redis and PostgreSQL are throwaway servers from Debian's packages (tests/support/servers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._measured_app import Sampler  # noqa: E402
from tests.support.app_process import MAIN, AppProcess  # noqa: E402
from tests.support.servers import postgres_server, redis_server  # noqa: E402

MODEL, KEY, TOKEN = "load-model", "load-key", "load-token"
_TOKEN_RE = re.compile(r"w(\d+)_(\d+)")
Frames = list[tuple[float, str]]


class ModelProcess:
    def __init__(self, tokens: int, rate: float, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "_load_model.py"), str(tokens),
                                      str(rate), str(out)], stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]

    def written(self) -> dict[tuple[int, int], float]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        return {tuple(int(x) for x in k.split(":")): v for k, v in json.loads(self.out.read_text()).items()}  # type: ignore[misc]


async def read_stream(n: int, start_on: httpx.AsyncClient, read_on: httpx.AsyncClient | None,
                      got: dict[int, Frames]) -> None:
    """POST on one instance; read there, or (read_on) re-attach on the other after the start.
    A stream that fails (a time-out, a refusal) counts as incomplete, with why."""
    received = got[n] = []
    try:
        await _read(n, start_on, read_on, received)
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        received.append((time.time(), f"failed: {type(exc).__name__}"))


async def _read(n: int, start_on: httpx.AsyncClient, read_on: httpx.AsyncClient | None, received: Frames) -> None:
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


async def _frames(lines, received: Frames) -> None:  # noqa: ANN001
    async for line in lines:
        if line.startswith("data: "):
            data = json.loads(line[6:])
            received.append((time.time(), data.get("content", "") if data["type"] == "text" else data["type"]))
            if data["type"] in ("done", "error", "cancelled"):
                return


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "—"
    q = statistics.quantiles(values, n=1000, method="inclusive")
    return (f"p50 {statistics.median(values) * 1000:6.1f} ms  p99 {q[989] * 1000:6.1f} ms  "
            f"p99.9 {q[998] * 1000:6.1f} ms  max {max(values) * 1000:6.1f} ms")


async def load(args: argparse.Namespace, apps: list[AppProcess], offset: int = 0) -> dict:
    procs = [psutil.Process(app.pid) for app in apps]
    samplers = [Sampler(p).start() for p in procs]
    clients = [app.client(TOKEN, limits=httpx.Limits(max_connections=1000)) for app in apps]
    got: dict[int, Frames] = {}
    rss_before = sum(p.memory_info().rss for p in procs)
    cpu_before = sum(s.sample()[1] for s in samplers)
    started = time.time()
    read_on = clients[1] if args.read_on == "b" and len(clients) > 1 else None
    await asyncio.gather(*(read_stream(n, clients[n % len(clients)] if args.split else clients[0], read_on, got)
                           for n in range(offset, offset + args.streams)))
    ended = time.time()
    cpu = sum(s.sample()[1] for s in samplers) - cpu_before
    await asyncio.sleep(3)  # what is kept after the streams end
    rss_after = sum(p.memory_info().rss for p in procs)
    for s in samplers:
        s.stop()
    for c in clients:
        await c.aclose()
    return {"got": got, "cpu": cpu, "wall": ended - started, "rss_before": rss_before, "rss_after": rss_after,
            "rss_peak": sum(s.peak_rss(started, ended) for s in samplers)}


def floor(url: str, streams: int) -> float:
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_load_floor.py"), url, str(streams)],
                            capture_output=True, text=True, timeout=1800, check=True)
    return json.loads(result.stdout)["cpu"]


def report(args: argparse.Namespace, run: dict, written: dict[tuple[int, int], float], floor_cpu: float | None,
           tree: Path | None) -> None:
    gaps, latencies, tokens, complete = [], [], 0, 0
    endings: dict[str, int] = {}  # how the incomplete ones ended
    for frames in run["got"].values():
        times = [t for t, _ in frames]
        gaps += [b - a for a, b in zip(times, times[1:])]
        for at, content in frames:
            for stream, index in _TOKEN_RE.findall(content):
                tokens += 1
                sent = written.get((int(stream), int(index)))
                if sent is not None:
                    latencies.append(at - sent)
        complete += bool(frames) and frames[-1][1] == "done"
        if frames and frames[-1][1] != "done":
            endings[frames[-1][1]] = endings.get(frames[-1][1], 0) + 1
    where = {"local": "one instance, in-process bus", "redis": "Redis + PostgreSQL"}[args.bus]
    if args.bus == "redis":
        where += ", split across A and B" if args.split else (", started on A, read on B" if args.read_on == "b"
                                                               else ", read where started")
    cpu, wall, n = run["cpu"], run["wall"], max(args.streams, 1)
    print(f"{args.streams} streams x {args.tokens} tokens at {args.rate:g} tok/s — {where}"
          + (f" — app from {tree}" if tree else " — this checkout"))
    print(f"  complete        {complete}/{args.streams}; {tokens} tokens in {wall:.1f} s"
          + (f"; the others: {endings}" if endings else ""))
    print(f"  gaps            {percentiles(gaps)}")
    print(f"  event latency   {percentiles(latencies)}  (model write → client read)")
    print(f"  app CPU         {cpu / wall:.2f} cores; {cpu / max(tokens, 1) * 1e6:.0f} ms per 1 000 tokens"
          + (f"; {cpu / floor_cpu:.2f}x a bare httpx client ({floor_cpu:.2f} s)" if floor_cpu else ""))
    print(f"  app RSS         {run['rss_before'] / 1e6:.0f} MB before, {run['rss_peak'] / 1e6:.0f} MB peak, "
          f"{run['rss_after'] / 1e6:.0f} MB after (+{(run['rss_after'] - run['rss_before']) / 1e6:.1f} MB); "
          f"{(run['rss_peak'] - run['rss_before']) / 1e6 / n:.2f} MB per stream at the peak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream (0: at once)")
    parser.add_argument("--bus", choices=["local", "redis"], default="local")
    parser.add_argument("--read-on", choices=["a", "b"], default="a")
    parser.add_argument("--split", action="store_true", help="start the streams on A and B in turn")
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="then the same against another checkout's app (its main.py); repeatable")
    parser.add_argument("--rounds", type=int, default=1, help="the load again on the same apps, N times in all")
    parser.add_argument("--floor", action="store_true", help="also measure a bare httpx client's CPU")
    parser.add_argument("--profile", type=Path, help="run the (first) app under cProfile, stats to this file")
    args = parser.parse_args()
    env = {"MAX_CONCURRENT_STREAMS": str(args.streams + 10), "SECRETGPT_API_TOKEN": TOKEN,
           "ATTESTATION_POLICY": "warn", "STREAM_DETACH_GRACE": "60", "STREAM_TIMEOUT": "3600"}
    trees: list[Path | None] = [None, *args.tree]
    results = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        redis = stack.enter_context(redis_server()) if args.bus == "redis" else None
        postgres = stack.enter_context(postgres_server()) if args.bus == "redis" else None
        for index, tree in enumerate(trees):
            main_py = tree.resolve() / "main.py" if tree else MAIN
            run_env = dict(env)
            count = 1
            if redis is not None and postgres is not None:
                run_env |= {"SECRETGPT_REDIS_URL": redis.url.rsplit("/", 1)[0] + f"/{index}",
                            "SECRETGPT_DATABASE_URL": postgres.create_database(f"load{index}"),
                            "SECRETGPT_STORAGE_SECRET": "load"}
                count = 2
            model = ModelProcess(args.tokens, args.rate, Path(tmp) / f"written{index}.json")
            command = ["-m", "cProfile", "-o", str(args.profile.resolve()), str(main_py)] \
                if args.profile and tree is None else [str(main_py)]
            apps = [AppProcess(Path(tmp) / f"run{index}-app{i}" / "data", Path(tmp) / f"run{index}-app{i}" / "work",
                               model_url=model.url, model=MODEL, model_api_key=KEY, env=run_env,
                               command=command if i == 0 else [str(main_py)])
                    for i in range(count)]

            async def go(apps: list[AppProcess] = apps, profiled: bool = command[0] == "-m") -> list[dict]:
                await asyncio.gather(*(app.start() for app in apps))
                try:
                    # Rounds after the first show what a round leaves behind (RSS after ≈ before).
                    return [await load(args, apps, r * args.streams) for r in range(args.rounds)]
                finally:
                    for app in apps:
                        await app.terminate(30, signal.SIGINT if profiled else signal.SIGTERM)
            runs = asyncio.run(go())
            written = model.written()
            results += [(tree, run, written) for run in runs]
        floor_cpu = None
        if args.floor:
            model = ModelProcess(args.tokens, args.rate, Path(tmp) / "written-floor.json")
            floor_cpu = floor(model.url, args.streams)
            model.written()
        for tree, run, written in results:
            report(args, run, written, floor_cpu, tree)


if __name__ == "__main__":
    main()
