"""The CPU floor: read the same token stream(s) with `ChatSecret.astream` alone, in its own process.

Run by stream_render.py; not meant to be run by hand. Protocol on stdin/stdout (one JSON per line):
it imports, warms up with one short request, prints {"ready": true}, waits for a line on stdin,
streams every prompt concurrently, and prints the result. The CPU figure is `time.process_time()`
around the streaming only (imports and warm-up excluded), so the loopback server's own CPU, which
lives in the benchmark process, is not counted.

Arguments: --url URL --model NAME --warmup PROMPT --prompt PROMPT [--prompt PROMPT ...]
(SECRET_AI_API_KEY must be set in the environment: ChatSecret reads it from there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


async def _read(llm, prompt: str) -> dict:
    from langchain_core.messages import HumanMessage

    chunks = 0
    parts: list[str] = []
    last_content_at = None
    async for chunk in llm.astream([HumanMessage(prompt)]):
        chunks += 1
        if chunk.content:
            parts.append(chunk.content if isinstance(chunk.content, str) else str(chunk.content))
            last_content_at = time.time()
    return {"chunks": chunks, "text": "".join(parts), "last_content_at": last_content_at}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--warmup", required=True)
    parser.add_argument("--prompt", action="append", required=True)
    args = parser.parse_args()

    from secret_ai_sdk import ChatSecret

    llm = ChatSecret(model=args.model, base_url=args.url, reasoning=True)
    await _read(llm, args.warmup)
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    wall0, cpu0 = time.time(), time.process_time()
    results = await asyncio.gather(*(_read(llm, p) for p in args.prompt))
    cpu1, wall1 = time.process_time(), time.time()
    print(json.dumps({
        "cpu_s": cpu1 - cpu0,
        "wall_s": wall1 - wall0,
        "chunks": [r["chunks"] for r in results],
        "texts": [r["text"] for r in results],
        "last_content_at": [r["last_content_at"] for r in results],
    }), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
