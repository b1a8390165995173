"""api_load.py's model server, in a process of its own (its CPU and its GIL apart from the client
that reads the streams): the loopback server answering `load:<n>` with tokens `w<n>_<i>` at a
given rate. It prints its URL, then, on SIGTERM, writes when each token went out (epoch seconds,
by "n:i") to the file given, and exits.

Arguments: TOKENS RATE OUT_FILE. Not meant to be run by hand.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from secretgpt.services.loopback_model import LoopbackModelServer, Reply, Step  # noqa: E402

MODEL, KEY = "load-model", "load-key"
_TOKEN_RE = re.compile(rb"w(\d+)_(\d+)")


async def main(tokens: int, rate: float, out: Path) -> None:
    written: dict[str, float] = {}

    def on_written(data: bytes) -> None:
        now = time.time()
        for stream, index in _TOKEN_RE.findall(data):
            written.setdefault(f"{int(stream)}:{int(index)}", now)

    def reply(request: dict) -> Reply:
        n = int(re.search(r"load:(\d+)", request["messages"][-1]["content"]).group(1))
        return Reply(steps=[Step("chunk", content=f" w{n}_{i}") for i in range(tokens)],
                     tokens_per_second=rate or None)

    server = await LoopbackModelServer(reply, api_key=KEY, models=[MODEL], protocols={"openai"},
                                       written=on_written).start()
    print(server.url, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    out.write_text(json.dumps(written))
    await server.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])))
