"""The CPU floor of api_load.py: a bare httpx client reading the same streams straight from the
model server (its SSE lines, each `data:` parsed as JSON), in a process of its own; prints its
own CPU seconds (`time.process_time()` around the reading only).

Arguments: URL STREAMS. Not meant to be run by hand.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx


async def read(client: httpx.AsyncClient, n: int) -> int:
    body = {"model": "load-model", "stream": True, "messages": [{"role": "user", "content": f"load:{n}"}]}
    tokens = 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                tokens += bool(chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"))
    return tokens


async def main(url: str, streams: int) -> None:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer load-key"}, timeout=600,
                                 limits=httpx.Limits(max_connections=1000)) as client:
        started = time.process_time()
        tokens = sum(await asyncio.gather(*(read(client, n) for n in range(streams))))
        print(json.dumps({"cpu": time.process_time() - started, "tokens": tokens}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
