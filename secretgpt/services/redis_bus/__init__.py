"""The stream bus of several instances, on Redis (SECRETGPT_REDIS_URL): each stream's events, the
deployment's directory of streams and their limits, controls between instances, and the end of
the streams of an instance that stopped. It implements the hub's `StreamBus`."""

from .bus import RedisBus

__all__ = ["RedisBus"]
