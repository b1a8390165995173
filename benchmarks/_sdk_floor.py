"""The CPU floor: read the same token stream(s) with the client library alone, in its own process:
`AsyncOpenAI` (streamed chat completions, as the app's OpenAI-compatible path asks for them) or
`ChatSecret.astream` (the Ollama path).

Run by stream_render.py; not meant to be run by hand. Protocol on stdin/stdout (one JSON per line):
it imports, warms up with one short request, prints {"ready": true}, waits for a line on stdin,
streams every prompt concurrently, and prints the result. The CPU figure is `time.process_time()`
around the streaming only (imports and warm-up excluded), so the loopback server's own CPU, which
lives in the benchmark process, is not counted.

Arguments: --protocol openai|ollama --url URL --model NAME --warmup PROMPT --prompt PROMPT [--prompt …]
(SECRET_AI_API_KEY must be set in the environment: both clients read it from there).
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


def _openai_reader(url: str, model: str):
    import os

    import httpx
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=os.environ["SECRET_AI_API_KEY"], base_url=url.rstrip("/") + "/v1", max_retries=0,
                         http_client=httpx.AsyncClient(timeout=300))

    async def read(prompt: str) -> dict:
        chunks = 0
        parts: list[str] = []
        last_content_at = None
        stream = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                                      stream=True, stream_options={"include_usage": True})
        async for chunk in stream:
            chunks += 1
            content = chunk.choices[0].delta.content if chunk.choices else None
            if content:
                parts.append(content)
                last_content_at = time.time()
        return {"chunks": chunks, "text": "".join(parts), "last_content_at": last_content_at}

    return read


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--warmup", required=True)
    parser.add_argument("--prompt", action="append", required=True)
    parser.add_argument("--protocol", choices=["openai", "ollama"], default="openai")
    args = parser.parse_args()

    if args.protocol == "openai":
        read = _openai_reader(args.url, args.model)
    else:
        from secret_ai_sdk import ChatSecret

        llm = ChatSecret(model=args.model, base_url=args.url, reasoning=True)

        async def read(prompt: str) -> dict:
            return await _read(llm, prompt)
    await read(args.warmup)
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    wall0, cpu0 = time.time(), time.process_time()
    results = await asyncio.gather(*(read(p) for p in args.prompt))
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
