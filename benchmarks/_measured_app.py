"""The app under test: `python main.py` as a subprocess, with a psutil sampler for CPU and RSS."""

from __future__ import annotations

import bisect
import signal
import threading
import time
from pathlib import Path

import psutil

from tests.support.app_process import MAIN, AppProcess


class Sampler:
    """Samples a process's CPU (user+system seconds) and RSS every `interval` seconds."""

    def __init__(self, proc: psutil.Process, interval: float = 0.1) -> None:
        self.proc = proc
        self.interval = interval
        self.samples: list[tuple[float, float, int]] = []  # (time.time(), cpu seconds, rss bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="app-sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def sample(self) -> tuple[float, float, int]:
        with self.proc.oneshot():
            t = self.proc.cpu_times()
            rss = self.proc.memory_info().rss
        entry = (time.time(), t.user + t.system, rss)
        self.samples.append(entry)
        return entry

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def cpu_at(self, when: float) -> float:
        """CPU seconds at wall time `when`, interpolated between the samples around it."""
        samples = list(self.samples)
        times = [s[0] for s in samples]
        i = bisect.bisect_left(times, when)
        if i <= 0:
            return samples[0][1]
        if i >= len(samples):
            return samples[-1][1]
        (t0, c0, _), (t1, c1, _) = samples[i - 1], samples[i]
        return c0 + (c1 - c0) * ((when - t0) / (t1 - t0) if t1 > t0 else 1.0)

    def peak_rss(self, start: float, end: float) -> int:
        window = [s[2] for s in list(self.samples) if start <= s[0] <= end]
        return max(window) if window else 0


class MeasuredApp:
    """`python main.py` (tests/support's `AppProcess`, the one app-process helper) with its CPU and
    RSS sampled; optionally under cProfile (`profile_to`) or the stack sampler (`sample_to`)."""

    def __init__(self, model_url: str, model: str, api_key: str, data_dir: Path, extra_env: dict[str, str],
                 profile_to: Path | None = None, sample_to: Path | None = None, tree: Path | None = None) -> None:
        env = dict(extra_env)
        command: list[str] | None = [str(tree.resolve() / "main.py")] if tree is not None else None
        if profile_to is not None:  # stats written at a clean exit (SIGINT)
            command = ["-m", "cProfile", "-o", str(profile_to), str(MAIN)]
        elif sample_to is not None:
            command = [str(Path(__file__).resolve().parent / "_sampled_main.py")]
            env["SG_BENCH_SAMPLE_OUT"] = str(sample_to)
        self.profiling = profile_to is not None
        self.app = AppProcess(data_dir, data_dir / "work", model_url=model_url, model=model, model_api_key=api_key,
                              env=env, command=command)
        self.proc: psutil.Process | None = None
        self.sampler: Sampler | None = None

    @property
    def url(self) -> str:
        return self.app.url

    @property
    def running(self) -> bool:
        return self.app.running

    def log_tail(self, lines: int = 30) -> str:
        return self.app.log_tail(lines)

    async def start(self, timeout: float = 60.0) -> MeasuredApp:
        await self.app.start(timeout)
        self.proc = psutil.Process(self.app.pid)
        self.sampler = Sampler(self.proc).start()
        return self

    async def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.app.running:
            try:
                await self.app.terminate(30 if self.profiling else 10,
                                         sig=signal.SIGINT if self.profiling else signal.SIGTERM)
            except AssertionError:  # killed after the timeout
                pass
        self.app.cleanup()
