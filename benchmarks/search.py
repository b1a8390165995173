"""Full-text search of the conversation list at scale: p50/p95 per query on 10 000 conversations.

The store is the app's own (`SqlConversationStore`), filled through its import (`_seed.py`'s
conversations: titles, questions, Markdown answers with reasoning), so the index is built by the
same triggers (SQLite) or generated columns (PostgreSQL) as a user's. Each query runs as the drawer
and the API run it (`list_conversations(owner, search=…)`, 200 results at most, snippets
included), `--runs` times after one warm-up. For comparison, the LIKE scan that search used to be
(`search.matching`) runs on two of the queries; and on SQLite, what deleting one conversation costs
now that it also rewrites the FTS5 index (so the deleted words leave the file).

    .venv/bin/python benchmarks/search.py                      # SQLite, 10 000 conversations
    .venv/bin/python benchmarks/search.py --postgres           # and PostgreSQL (Debian's, throwaway)
    .venv/bin/python benchmarks/search.py --conversations 1000 --runs 5   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from benchmarks._seed import build_export  # noqa: E402
from secretgpt.storage import SqlConversationStore, database_url  # noqa: E402
from secretgpt.storage.schema import conversations as C  # noqa: E402
from secretgpt.storage.schema import messages as M  # noqa: E402
from secretgpt.storage.search import matching  # noqa: E402

OWNER = "bench"
BATCH = 500  # conversations per import (below the import's caps)

# What people type: a frequent word, a rarer one, a prefix, two words, one conversation's own
# word, a title word, and nothing that exists.
QUERIES = ("model", "attestation", "conf", "secret enclave", "convend042", "bench chat", "zzqqxx")
LIKE_QUERIES = ("attestation", "convend042")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def fill(store: SqlConversationStore, conversations: int, messages: int) -> float:
    started = time.perf_counter()
    for first in range(0, conversations, BATCH):
        document = build_export(min(BATCH, conversations - first), messages, seed=first + 1)
        await store.import_json(OWNER, document)
        print(f"  imported {min(first + BATCH, conversations):,} conversations", end="\r", flush=True)
    print()
    return time.perf_counter() - started


async def timed(call, runs: int) -> tuple[list[float], int]:
    found = len(await call())  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await call()
        times.append((time.perf_counter() - t0) * 1000)
    return times, found


async def like_scan(store: SqlConversationStore, term: str) -> list:
    query = select(C.c.id).where(C.c.owner == OWNER, matching(term)).order_by(C.c.updated_at.desc()).limit(200)
    async with store.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def bench(url: str, label: str, conversations: int, messages: int, runs: int) -> None:
    store = await SqlConversationStore.open(url)
    try:
        print(f"\n## {label}: {conversations:,} conversations × {messages} messages")
        seconds = await fill(store, conversations, messages)
        async with store.engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(M))).scalar_one()
            chars = (await conn.execute(select(func.sum(func.length(M.c.content))))).scalar_one()
        print(f"import with the index: {seconds:.1f} s ({count:,} messages, {chars / 1e6:.1f} M characters of text)")
        print("\n| query | found | p50 ms | p95 ms | max ms |\n| --- | ---: | ---: | ---: | ---: |")
        every: list[float] = []
        for term in QUERIES:
            times, found = await timed(lambda term=term: store.list_conversations(OWNER, search=term), runs)
            every += times
            print(f"| `{term}` | {found} | {statistics.median(times):.1f} | {pct(times, 0.95):.1f} | {max(times):.1f} |")
        print(f"| all queries | | {statistics.median(every):.1f} | {pct(every, 0.95):.1f} | {max(every):.1f} |")
        print("\nThe LIKE scan search was before (for comparison):\n")
        print("| query | found | p50 ms | p95 ms |\n| --- | ---: | ---: | ---: |")
        for term in LIKE_QUERIES:
            times, found = await timed(lambda term=term: like_scan(store, term), max(3, runs // 4))
            print(f"| `{term}` (LIKE) | {found} | {statistics.median(times):.1f} | {pct(times, 0.95):.1f} |")
        if store.engine.dialect.name == "sqlite":
            listed = await store.list_conversations(OWNER, limit=5)
            times = []
            for summary in listed[:3]:
                t0 = time.perf_counter()
                await store.delete(summary.id, OWNER)
                times.append((time.perf_counter() - t0) * 1000)
            print(f"\nDeleting one conversation (with the index rewrite and the WAL emptied): "
                  f"{', '.join(f'{t:.0f}' for t in times)} ms")
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=6, help="per conversation (questions and answers)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each query")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="secretgpt-search-bench-") as directory:
        await bench(database_url(Path(directory)), "SQLite (FTS5)", args.conversations, args.messages, args.runs)
    if args.postgres:
        from tests.support.servers import postgres_server

        with postgres_server() as server:
            url = server.create_database("search_bench")
            await bench(url, "PostgreSQL (tsvector)", args.conversations, args.messages, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
