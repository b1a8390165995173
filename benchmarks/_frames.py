"""What the websocket carried: sizes, Socket.IO events, and which elements the updates resent."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field


def payload_size(payload: str | bytes) -> int:
    return len(payload.encode("utf-8")) if isinstance(payload, str) else len(payload)


@dataclass
class FrameLog:
    """Frames one page received while armed (between "send" and "Completed")."""

    armed: bool = False
    frames: list[tuple[float, str | bytes]] = field(default_factory=list)  # (time.time(), payload)
    sent: list[tuple[float, str | bytes]] = field(default_factory=list)  # browser -> server
    sockets_opened: int = 0
    sockets_closed: list[float] = field(default_factory=list)  # time.time() of each close

    @property
    def bytes(self) -> int:
        return sum(payload_size(p) for _, p in self.frames)


def _parse(payload: str | bytes) -> tuple[str, object] | None:
    """Engine.IO message '4' + Socket.IO event '2' -> (event name, data)."""
    if not isinstance(payload, str) or not payload.startswith("42"):
        return None
    start = payload.find("[")
    if start < 0:
        return None
    try:
        value = json.loads(payload[start:])
    except ValueError:
        return None
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0], value[1] if len(value) > 1 else None
    return None


def analyze(frames: list[tuple[float, str | bytes]]) -> dict:
    sizes = [payload_size(p) for _, p in frames]
    if not sizes:
        return {"frames": 0, "bytes": 0}
    events: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    tags: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # count, bytes, innerHTML bytes
    per_update = Counter()
    sent_ids: Counter = Counter()
    resent_bytes = 0
    first_bytes = 0
    for _, payload in frames:
        parsed = _parse(payload)
        name = parsed[0] if parsed else ("engine.io:" + (payload[:1] if isinstance(payload, str) else "binary"))
        events[name][0] += 1
        events[name][1] += payload_size(payload)
        if parsed and name == "update" and isinstance(parsed[1], dict):
            elements = {k: v for k, v in parsed[1].items() if k != "_id"}
            per_update[len(elements)] += 1
            for element_id, element in elements.items():
                size = len(json.dumps(element, separators=(",", ":")))
                tag = "(deleted)" if element is None else str(element.get("tag", "?"))
                html = len(str(((element or {}).get("props") or {}).get("innerHTML", "")))
                tags[tag][0] += 1
                tags[tag][1] += size
                tags[tag][2] += html
                if sent_ids[element_id]:
                    resent_bytes += size
                else:
                    first_bytes += size
                sent_ids[element_id] += 1
    duration = frames[-1][0] - frames[0][0] if len(frames) > 1 else 0.0
    ordered = sorted(range(len(sizes)), key=sizes.__getitem__)
    samples = []
    for label, index in (("largest", ordered[-1]), ("median", ordered[len(ordered) // 2]), ("last", len(frames) - 1)):
        payload = frames[index][1]
        text = payload if isinstance(payload, str) else repr(payload[:200])
        samples.append({"which": label, "bytes": sizes[index], "prefix": text[:220]})
    return {
        "frames": len(sizes),
        "bytes": sum(sizes),
        "mean_bytes": statistics.fmean(sizes),
        "median_bytes": statistics.median(sizes),
        "max_bytes": max(sizes),
        "frames_per_s": (len(sizes) - 1) / duration if duration > 0 else None,
        "events": {k: {"count": v[0], "bytes": v[1]} for k, v in sorted(events.items(), key=lambda kv: -kv[1][1])},
        "update_tags": {k: {"count": v[0], "bytes": v[1], "html_bytes": v[2]}
                        for k, v in sorted(tags.items(), key=lambda kv: -kv[1][1])},
        "elements_per_update": dict(sorted(per_update.items())),
        "distinct_elements": len(sent_ids),
        "element_first_send_bytes": first_bytes,
        "element_resend_bytes": resent_bytes,
        "most_resent": [{"id": k, "times": n} for k, n in sent_ids.most_common(3)],
        "samples": samples,
    }
