"""The plan of a stream_render run: the cases, the command line, and for each case the streams the
app and the SDK-only floor read (token for token the same but for their sentinel words)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._history import seed_history
from benchmarks._loopback import LoopbackThread, plan_tokens
from secretgpt.services.loopback_model import synthetic_markdown

WARMUP_TOKENS = 300
IDLE_SECONDS = 3.0  # the app's idle CPU is measured over this long, before the measured answer


@dataclass
class Case:
    name: str
    title: str
    tokens: int  # per session
    tokens_per_second: float | None  # None: a burst, as fast as the socket takes it
    sessions: int = 1
    quick_tokens: int = 1000
    bytes_target: float | None = 4.0  # None: reported, no target
    cpu_target: float | None = 2.0
    lag_target_ms: float = 300.0
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the app
    prepare: Callable[[Path], None] | None = None  # fill the app's data dir before it starts
    # (conversations, messages each): imported through the page before the stream, then opening
    # the app and switching conversations are timed (see _history.py)
    history: tuple[int, int] | None = None
    server_ms_target: float = 300.0  # app CPU per open / switch

    def sized(self, tokens: int) -> Case:
        copy = Case(**{**self.__dict__})
        copy.tokens = tokens
        return copy


CASES: list[Case] = [
    Case("3k", "3 000 tokens at 100 tok/s", 3_000, 100.0),
    Case("20k", "20 000 tokens at 100 tok/s", 20_000, 100.0),
    Case("burst20k", "20 000-token burst", 20_000, None, quick_tokens=2_000),
    Case("concurrent10", "10 concurrent sessions, 1 000 tokens each at 50 tok/s", 1_000, 50.0, sessions=10,
         quick_tokens=200, bytes_target=None, cpu_target=None, lag_target_ms=500.0,
         env={"MAX_CONCURRENT_STREAMS": "20"}),
    Case("stored200", "3 000 tokens at 100 tok/s, with 200 stored conversations × 50 messages", 3_000, 100.0,
         history=(200, 50), prepare=lambda data_dir: seed_history(data_dir, 200, 50)),
]
QUICK_DEFAULT = ["3k", "burst20k", "concurrent10"]


@dataclass
class StreamPlan:
    """One session's measured answer, and the same answer for the SDK-only floor."""

    prompt: str
    sentinel: str
    text: str
    floor_prompt: str
    floor_sentinel: str
    floor_text: str


def plan_streams(case: Case, loopback: LoopbackThread, tag: str) -> tuple[list[StreamPlan], str]:
    """The measured answers of every session, and the floor's warm-up prompt."""
    plans = []
    for i in range(case.sessions):
        sentinel = f"ENDMARK{tag}A{i}"
        tokens = plan_tokens(case.tokens, sentinel)
        floor_sentinel = f"ENDMARK{tag}F{i}"
        floor_tokens = tokens[:-1] + [tokens[-1].replace(sentinel, floor_sentinel)]
        plans.append(StreamPlan(
            loopback.add_plan(f"{tag}-app-{i}", tokens, case.tokens_per_second), sentinel, "".join(tokens),
            loopback.add_plan(f"{tag}-floor-{i}", floor_tokens, case.tokens_per_second), floor_sentinel,
            "".join(floor_tokens)))
    warmup = loopback.add_plan(f"{tag}-floor-warmup", synthetic_markdown(WARMUP_TOKENS), None)
    return plans, warmup


def app_env(case: Case, args: argparse.Namespace, protocol: str) -> dict[str, str]:
    env = dict(case.env)
    if args.typing_speed:
        env["TYPING_SPEED"] = args.typing_speed
    if args.update_hz:
        env["STREAMING_UPDATE_HZ"] = str(args.update_hz)
    env["SECRET_AI_PROTOCOL"] = protocol
    return env


def output_path(directory: str | None, name: str) -> Path | None:
    """Where a per-case file goes (--profile-app, --sample-app), or None."""
    if not directory:
        return None
    path = Path(directory).resolve() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def selected_cases(args: argparse.Namespace) -> list[Case]:
    cases = []
    for name in args.selected:
        case = next(c for c in CASES if c.name == name)
        if args.tokens:
            case = case.sized(args.tokens)
        elif args.quick:
            case = case.sized(case.quick_tokens)
        cases.append(case)
    return cases


def parse_args(argv: list[str], description: str) -> argparse.Namespace:
    names = [c.name for c in CASES]
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", help=f"comma-separated, from: {', '.join(names)} (default: all; "
                                        f"with --quick: {', '.join(QUICK_DEFAULT)})")
    parser.add_argument("--quick", action="store_true", help="smoke run: each case at its small size "
                                                             "(1 000 tokens for the paced ones)")
    parser.add_argument("--tokens", type=int, help="override the tokens per session of every selected case")
    parser.add_argument("--json", help="write the results as JSON to this file")
    parser.add_argument("--protocol", choices=["openai", "ollama", "both"], default="openai",
                        help="the API the loopback model server speaks and the app uses (default: openai, as "
                             "Secret AI's hosts; both: every case on each)")
    parser.add_argument("--typing-speed", choices=["instant", "fast", "natural"],
                        help="TYPING_SPEED for the app (default: the app's own default)")
    parser.add_argument("--update-hz", type=float, help="STREAMING_UPDATE_HZ for the app (default: the app's)")
    parser.add_argument("--floor", choices=["auto", "concurrent", "sequential"], default="auto",
                        help="run the SDK-only read alongside the app's stream, or before it (auto: "
                             "alongside for paced streams, before for bursts)")
    parser.add_argument("--dump-frames", metavar="DIR",
                        help="write the measured answer's websocket frames (both directions) as JSONL here")
    parser.add_argument("--profile-app", metavar="DIR",
                        help="run the app under cProfile (slower: CPU figures inflate) and write <case>.prof here; "
                             "the top functions by own time are printed")
    parser.add_argument("--sample-app", metavar="DIR",
                        help="run the app under a SIGPROF stack sampler (_sampled_main.py; little overhead) and attribute "
                             "the samples to the measured windows (history opens/switches, the stream)")
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="also run each case against another checkout's main.py (repeatable), "
                             "after this one's: before and after in one run")
    parser.add_argument("--keep", action="store_true", help="keep each case's data dir (app.log, floor.log)")
    parser.add_argument("--verbose", action="store_true", help="print sample frame payloads for every case")
    args = parser.parse_args(argv)
    selected = args.cases.split(",") if args.cases else (QUICK_DEFAULT if args.quick else names)
    unknown = [n for n in selected if n not in names]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(names)}")
    args.selected = selected
    return args
