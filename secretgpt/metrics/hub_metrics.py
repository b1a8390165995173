"""`HubMetrics`: what the hub reports, counted in a registry of this app's own (several apps in one
process, as in the tests, do not share counts). Everything is counted when a stream starts or
ends, never per token: an answer's tokens are added once, from its final record.

No label holds message text, a conversation or stream id, or a token: the labels are fixed words,
model names and model host origins (both from the operator's configuration).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from ..records import StreamRecord, StreamStatus

# Seconds. Time to first token: a warm host answers in well under a second, a cold or attesting
# one in tens. A stream: a short answer in seconds, a long one in minutes (STREAM_TIMEOUT: 300 s).
TTFT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
DURATION_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Each counter's and histogram's `_created` twin (when it was made) doubles the page for nothing a
# query here uses; the library's own switch (process-wide: this is the process's only exposition).
disable_created_metrics()

HOST_STATUSES = ("verified", "unbound", "unverified", "failed")
OUTCOMES = {StreamStatus.COMPLETED: "completed", StreamStatus.STOPPED: "cancelled",
            StreamStatus.INTERRUPTED: "interrupted"}


def outcome_of(record: StreamRecord) -> tuple[str, str, str]:
    """(outcome, kind, mode): completed, cancelled, error or interrupted; for an error its kind
    (auth, unreachable, timeout, model_error, not_attested, storage, …; empty otherwise); streaming
    or non_streaming (an answer read whole after streaming failed counts as non_streaming)."""
    outcome = OUTCOMES.get(record.status, "error")
    if outcome == "error":
        kind = record.error_kind or ("timeout" if record.status is not StreamStatus.ERROR else "model_error")
    else:
        kind = ""
    mode = "streaming" if record.streaming and not record.fallback else "non_streaming"
    return outcome, kind, mode


class HubMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.streams_active = Gauge("secretgpt_streams_active", "Answers being produced on this instance now",
                                    registry=registry)
        self.streams = Counter("secretgpt_streams", "Answers ended, by outcome, error kind and mode",
                               ["outcome", "kind", "mode"], registry=registry)
        self.time_to_first_token = Histogram(
            "secretgpt_time_to_first_token_seconds", "From the start of an answer to its first token",
            ["model"], buckets=TTFT_BUCKETS, registry=registry)
        self.stream_duration = Histogram("secretgpt_stream_duration_seconds", "From the start of an answer to its end",
                                         ["model"], buckets=DURATION_BUCKETS, registry=registry)
        self.tokens = Counter("secretgpt_tokens", "Tokens of ended answers (prompt: as the model server counted "
                              "them; completion: its count, else the chunks received)", ["direction"],
                              registry=registry)
        self.attestation_checks = Counter("secretgpt_attestation_checks", "Attestations of model hosts made, by "
                                          "their result", ["status"], registry=registry)
        self.host_status = Gauge("secretgpt_attestation_host_status", "Each attested model host's last status "
                                 "(1 for it, 0 for the others)", ["origin", "status"], registry=registry)
        self.save_failures = Counter("secretgpt_storage_save_failures", "Saves of an answer that failed "
                                     "(checkpoints, final saves and their retries)", registry=registry)
        self.sse_clients = Gauge("secretgpt_sse_clients_attached", "API clients following a stream's events "
                                 "(SSE) on this instance now", registry=registry)
        self.pauses = Counter("secretgpt_stream_pauses", "Pauses that took effect on answers produced here",
                              registry=registry)
        # Zeros from the start: rate() and ratios over them work before the first of each.
        for outcome in ("completed", "cancelled", "interrupted"):
            for mode in ("streaming", "non_streaming"):
                self.streams.labels(outcome, "", mode)
        for direction in ("prompt", "completion"):
            self.tokens.labels(direction)

    def render(self) -> tuple[bytes, str]:
        """The exposition (text format) and its Content-Type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # --- the hub's observer ------------------------------------------------------------------

    def stream_started(self) -> None:
        self.streams_active.inc()

    def stream_ended(self, record: StreamRecord) -> None:
        self.streams_active.dec()
        self.streams.labels(*outcome_of(record)).inc()
        if record.time_to_first_token is not None:
            self.time_to_first_token.labels(record.model).observe(record.time_to_first_token)
        if record.ended_at is not None:
            self.stream_duration.labels(record.model).observe(
                max(0.0, (record.ended_at - record.started_at).total_seconds()))
        if record.prompt_tokens:
            self.tokens.labels("prompt").inc(record.prompt_tokens)
        if record.completion_tokens:
            self.tokens.labels("completion").inc(record.completion_tokens)

    def stream_paused(self) -> None:
        self.pauses.inc()

    def reader_attached(self) -> None:
        self.sse_clients.inc()

    def reader_detached(self) -> None:
        self.sse_clients.dec()

    def save_failed(self) -> None:
        self.save_failures.inc()

    def host_attested(self, origin: str, status: str) -> None:
        self.attestation_checks.labels(status).inc()
        for each in {*HOST_STATUSES, status}:
            self.host_status.labels(origin, each).set(1 if each == status else 0)
