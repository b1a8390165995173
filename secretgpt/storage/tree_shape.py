"""The shape of an imported message tree: checked, and put parents first, in linear time.

An import file is untrusted and may hold a 100 000-message chain: walking from every message to
the root (to find a parent_id loop) is quadratic — 26 s for 20 000 messages. Here every message
is visited a bounded number of times: placing a message releases the children that waited for
it, so whatever is never placed hangs under a loop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol, TypeVar


class Node(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def parent_id(self) -> str | None: ...


N = TypeVar("N", bound=Node)


def parents_first(nodes: Sequence[N]) -> list[N]:
    """The nodes in their order, except that a parent always comes before its children (a child
    listed earlier waits for its parent, then follows it, siblings keeping their order). Nodes
    under a parent_id loop, or under a parent that is not there, are left out."""
    placed: set[str] = set()
    waiting: defaultdict[str, list[N]] = defaultdict(list)
    out: list[N] = []
    for node in nodes:
        if node.parent_id is not None and node.parent_id not in placed:
            waiting[node.parent_id].append(node)
            continue
        released = [node]
        while released:
            ready = released.pop()
            out.append(ready)
            placed.add(ready.id)
            released.extend(reversed(waiting.pop(ready.id, ())))
    return out


def tree_problem(nodes: Sequence[Node]) -> str | None:
    """What keeps these nodes from being one tree (forest) of messages, in words; None if nothing."""
    ids: set[str] = set()
    for node in nodes:
        if node.id in ids:
            return f"message id {node.id!r} appears twice"
        ids.add(node.id)
    for node in nodes:
        if node.parent_id is not None and node.parent_id not in ids:
            return (f"message {node.id!r} has parent_id {node.parent_id!r}, which is not a message of this "
                    "conversation")
    if len(parents_first(nodes)) == len(nodes):
        return None
    return f"message {_in_a_loop(nodes)!r} is its own ancestor (parent_id loop)"


def _in_a_loop(nodes: Sequence[Node]) -> str:
    """A message on a parent_id loop, once `parents_first` has left some out (every parent is
    there): going up from any of those must come round again, in at most len(nodes) steps."""
    parent = {node.id: node.parent_id for node in nodes}
    placed = {node.id for node in parents_first(nodes)}
    node = next(n.id for n in nodes if n.id not in placed)
    seen: set[str] = set()
    while node not in seen:
        seen.add(node)
        node = parent[node]  # type: ignore[assignment]  # never None: a node under a root is placed
    return node
