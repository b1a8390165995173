"""The process's logs: lines for a person (`SECRETGPT_LOG_FORMAT=text`, the default) or one JSON
object per line for a log pipeline (`json`): time, level, logger, message, and `stream_id` and
`conversation_id` when the line is about a stream. In JSON, uvicorn's error and access logs come
through the same handler (access lines without their query string, which can hold a search)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from ..config import Settings
from ..records import current_stream

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Request lines add nothing at INFO in text; openai logs request bodies (message contents) at DEBUG.
QUIET = ("httpx", "openai", "secret_ai_sdk", "secret_ai_sdk._enhanced_client")

log = logging.getLogger("secretgpt")


class JsonLines(logging.Formatter):
    """One object per record, on one line (newlines inside values are escaped by JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        stream = current_stream.get()
        if stream is not None:
            entry["stream_id"], entry["conversation_id"] = stream
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class WithoutQuery(logging.Filter):
    """uvicorn's access line is (client, method, path with query, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def configure_logging(fmt: LogFormat = "text") -> None:
    handler = logging.StreamHandler(sys.stderr if fmt == "text" else sys.stdout)
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if fmt == "json":
        logging.captureWarnings(True)  # a library's warning is a log line too, not loose text on stderr
        access = logging.getLogger("uvicorn.access")
        if not any(isinstance(f, WithoutQuery) for f in access.filters):
            access.addFilter(WithoutQuery())


def uvicorn_options(fmt: LogFormat) -> dict[str, Any]:
    """What `ui.run` passes on to uvicorn: in JSON, no logging config of its own (its loggers reach
    ours) and INFO, so the access log is there; in text, uvicorn's own lines at warnings only."""
    if fmt == "json":
        return {"log_config": None, "uvicorn_logging_level": "info"}
    return {}


def token_whereabouts(settings: Settings) -> str:
    if settings.api_token is not None:
        return "the API token is the value of SECRETGPT_API_TOKEN"
    return f"the API token is kept in {settings.data_dir / 'api_token'}"


def announce_in_log(settings: Settings, mode: str) -> None:
    """The start-up banner as log lines: where the token is, never the token."""
    log.info("SecretGPT is running on http://%s:%s [%s]; %s", settings.host, settings.port, mode,
             token_whereabouts(settings))
    if not settings.on_loopback:
        log.warning("listening on %s, not only on this machine; sign-in %s; put a TLS reverse proxy in front "
                    "(README: Running it for others)", settings.host,
                    "is required" if settings.login_required else "is OFF (SECRETGPT_REQUIRE_LOGIN=false)")
