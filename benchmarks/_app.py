"""The app under test: `python main.py` as a subprocess, with a psutil sampler for CPU and RSS."""

from __future__ import annotations

import bisect
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class AppProcess:
    def __init__(self, model_url: str, model: str, api_key: str, data_dir: Path, extra_env: dict[str, str],
                 profile_to: Path | None = None, sample_to: Path | None = None) -> None:
        self.profile_to = profile_to  # run the app under cProfile, stats written here at exit
        self.sample_to = sample_to  # run the app under _sampled_main.py, stack samples written here
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir / "app.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SECRETGPT_", "SECRET_AI_", "STREAM"))}
        env.update({
            "SECRET_AI_URL": model_url,
            "SECRET_AI_MODEL": model,
            "SECRET_AI_API_KEY": api_key,
            "SECRETGPT_HOST": "127.0.0.1",
            "SECRETGPT_PORT": str(self.port),
            "SECRETGPT_DATA_DIR": str(data_dir),
            "NICEGUI_STORAGE_PATH": str(data_dir / ".nicegui"),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra_env)
        if sample_to is not None:
            env["SG_BENCH_SAMPLE_OUT"] = str(sample_to)
        self.env = env
        self.popen: subprocess.Popen | None = None
        self.proc: psutil.Process | None = None
        self.sampler: Sampler | None = None

    def start(self, timeout: float = 60.0) -> AppProcess:
        self._log = open(self.log_path, "wb")
        profile = ["-m", "cProfile", "-o", str(self.profile_to)] if self.profile_to else []
        entry = [str(Path(__file__).resolve().parent / "_sampled_main.py")] if self.sample_to else ["main.py"]
        self.popen = subprocess.Popen([sys.executable, *profile, *entry, "--port", str(self.port)], cwd=ROOT,
                                      env=self.env,
                                      stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.proc = psutil.Process(self.popen.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.popen.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        else:
            raise RuntimeError(f"the app did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")
        self.sampler = Sampler(self.proc).start()
        return self

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.popen is not None and self.popen.poll() is None:
            if self.profile_to:
                self.popen.send_signal(signal.SIGINT)  # a clean exit, so cProfile writes its stats
            else:
                self.popen.terminate()
            try:
                self.popen.wait(30 if self.profile_to else 10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(line if len(line) <= 400 else line[:400] + " …" for line in text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None
