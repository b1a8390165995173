"""Reading a proof file as strict JSON, before anything looks at its fields.

A proof file comes from anyone, and its signer can be anyone (a key is free to make), so a signed
file proves nothing about its shape. Python's `json` accepts what canonical JSON cannot hold (NaN,
Infinity, 1e999 read as infinity, lone surrogates) and what would make two readers see different
things (a key twice in one object: Python keeps the last, another reader the first), and it
raises RecursionError on deep nesting. Each is refused here with one sentence, so the verifier
never fails with a traceback and signs off only on JSON every reader reads alike.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # a real proof nests about 8 deep; the signed `generation` and check values are free-form
MAX_INT_DIGITS = 19  # every whole number of a proof fits in 64 bits (lengths, byte counts, the seed)


class Unreadable(ValueError):
    """Why the bytes are not a JSON document a proof can be: one sentence, starting "it …"."""


def _no_constant(name: str) -> Any:
    raise Unreadable(f"it is not strict JSON: it holds {name}, which JSON has no number for")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise Unreadable(f"it holds the number {text[:40]}, too large to be read as a number")
    return value


def _bounded(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise Unreadable(f"it holds a whole number of {len(text.lstrip('-'))} digits; a proof's numbers have at "
                         f"most {MAX_INT_DIGITS}")
    return int(text)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise Unreadable(f"it has the key {json.dumps(key)[:60]} twice in one object, which readers may read "
                             "differently")
        found[key] = value
    return found


def _depth(value: Any) -> int:
    """How deep `value` nests (iteratively: the depth is what is being measured)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_json(data: bytes) -> Any:
    """The document in `data`; raises Unreadable. A UTF-8 byte order mark is allowed (some editors
    write one); the signature is over the parsed proof, not the file's bytes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"it is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    try:
        raw = json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant, parse_float=_finite,
                         parse_int=_bounded)
    except Unreadable:
        raise
    except RecursionError:
        raise Unreadable(f"it nests deeper than JSON can be read here (a proof nests at most {MAX_DEPTH} "
                         "levels)") from None
    except ValueError as exc:  # JSONDecodeError and int() alike
        raise Unreadable(f"it is not JSON ({exc})") from None
    if _depth(raw) > MAX_DEPTH:
        raise Unreadable(f"it nests more than {MAX_DEPTH} levels deep; a proof nests far less")
    try:
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Unreadable("it holds a \\u escape of half a character (a lone surrogate), which is not text") from None
    return raw
