"""Run `main.py` under a low-overhead stack sampler (for `stream_render.py --sample-app`).

A CPU-time interval timer (ITIMER_PROF, every SG_BENCH_SAMPLE_INTERVAL seconds of the process's
CPU, default 5 ms) raises SIGPROF; the handler runs in the main thread (the event loop, where
NiceGUI builds pages and sends updates) and records where it is. Samples where the loop is idle
are dropped. Lines appended to SG_BENCH_SAMPLE_OUT:

    S <tab> stack id <tab> JSON [[file, function, first line], … leaf first]
    T <tab> time.time() <tab> MainThread <tab> stack id

Unlike cProfile it does not slow down each function call, so the shares of time stay true, and
unlike a sampling thread it does not wait for the GIL (which biases samples towards calls that
release it, such as os.urandom in uuid4). Other threads' CPU (aiosqlite's worker) also ticks the
timer; those ticks land wherever the main thread is (usually idle, so dropped).
The benchmark attributes the samples to its measured windows (`_stacks.py`).
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_IDLE = {("runners.py", "run"), ("selectors.py", "select"), ("base_events.py", "run_forever")}


class _Recorder:
    """The SIGPROF handler only appends to lists (no I/O, never raises, not re-entered); a thread
    writes them out."""

    def __init__(self, out_path: str) -> None:
        self.out_path = out_path
        self.stacks: dict[tuple, int] = {}
        self.new_stacks: list[tuple[int, tuple]] = []
        self.samples: list[tuple[float, int]] = []
        self.inside = False
        threading.Thread(target=self._writer, name="sg-bench-sample-writer", daemon=True).start()

    def __call__(self, _signum: int, frame) -> None:
        if self.inside:
            return
        self.inside = True
        try:
            if frame is None or (frame.f_code.co_filename.rsplit("/", 1)[-1], frame.f_code.co_name) in _IDLE:
                return
            now = time.time()
            key = []
            while frame is not None:
                code = frame.f_code
                key.append((code.co_filename, code.co_name, code.co_firstlineno))
                frame = frame.f_back
            stack = tuple(key)
            sid = self.stacks.get(stack)
            if sid is None:
                sid = self.stacks[stack] = len(self.stacks)
                self.new_stacks.append((sid, stack))
            self.samples.append((now, sid))
        except Exception:
            pass
        finally:
            self.inside = False

    def _writer(self) -> None:
        with open(self.out_path, "w") as out:
            while True:
                time.sleep(0.5)
                # Swap the lists (atomic under the GIL), then write; stacks before the samples using them.
                stacks, self.new_stacks = self.new_stacks, []
                samples, self.samples = self.samples, []
                for sid, stack in stacks:
                    out.write(f"S\t{sid}\t{json.dumps(stack)}\n")
                for now, sid in samples:
                    out.write(f"T\t{now:.4f}\tMainThread\t{sid}\n")
                out.flush()


def main() -> None:
    interval = float(os.environ.get("SG_BENCH_SAMPLE_INTERVAL", "0.005"))
    signal.signal(signal.SIGPROF, _Recorder(os.environ["SG_BENCH_SAMPLE_OUT"]))
    signal.siginterrupt(signal.SIGPROF, False)  # SA_RESTART: system calls are not interrupted
    signal.setitimer(signal.ITIMER_PROF, interval, interval)
    sys.path.insert(0, str(ROOT))
    sys.argv = [str(ROOT / "main.py"), *sys.argv[1:]]
    runpy.run_path(str(ROOT / "main.py"), run_name="__main__")


if __name__ == "__main__":
    main()
