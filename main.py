"""Start SecretGPT: `python main.py [--host HOST] [--port PORT]`."""

from __future__ import annotations

import argparse
import os
import sys

from secretgpt.config import ConfigError, load_settings
from secretgpt.config.private_dir import PRIVATE_UMASK


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="SecretGPT: chat with Secret AI's confidential LLMs")
    parser.add_argument("--host", help="address to listen on (SECRETGPT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (SECRETGPT_PORT, default 8080)")
    # parse_known_args: under NiceGUI's test runner sys.argv holds pytest's arguments
    args, _ = parser.parse_known_args(argv)
    return args


def main() -> None:
    args = parse_args(sys.argv[1:])
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    # Import after settings are valid: the SDK configures logging at import time.
    from secretgpt.storage.preflight import StorageUnavailable, check_storage

    # Everything this process writes (SQLite's -wal/-shm included) is for its user only.
    os.umask(PRIVATE_UMASK)
    try:
        check_storage(settings.data_dir, settings.database_url)
    except StorageUnavailable as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    # NiceGUI reads this when it is imported (just below): its per-browser storage goes in the data dir.
    os.environ["NICEGUI_STORAGE_PATH"] = str(settings.data_dir.resolve() / "nicegui")
    if settings.redis_url:
        # Several instances: a browser's settings (and sign-in) follow it to whichever one serves it.
        os.environ["NICEGUI_REDIS_URL"] = settings.redis_url
        os.environ.setdefault("NICEGUI_REDIS_KEY_PREFIX", "secretgpt:nicegui:")
    from secretgpt.interfaces.app import run
    from secretgpt.interfaces.logs import configure_logging

    configure_logging(settings.log_format)
    run(settings)


if __name__ in {"__main__", "__mp_main__"}:
    main()
