"""The typing pace: steady when keeping up, faster when behind, never far behind."""

from secretgpt.config import TypingSpeed
from secretgpt.interfaces.web_ui.reveal import RevealPacer


def drain(pacer: RevealPacer, backlog: int, dt: float = 0.1, limit: int = 1000) -> int:
    ticks = 0
    while backlog > 0 and ticks < limit:
        backlog -= pacer.allowance(backlog, dt)
        ticks += 1
    return ticks


def test_instant_shows_everything_at_once() -> None:
    assert RevealPacer(TypingSpeed.INSTANT).allowance(5000, 0.1) == 5000


def test_natural_is_slower_than_fast_for_a_small_backlog() -> None:
    assert RevealPacer(TypingSpeed.NATURAL).allowance(40, 0.1) < RevealPacer(TypingSpeed.FAST).allowance(40, 0.1)


def test_a_large_backlog_is_caught_up_within_a_few_seconds() -> None:
    # 20 000 characters arriving at once: the pace adapts instead of typing for minutes.
    assert drain(RevealPacer(TypingSpeed.NATURAL), 20_000) * 0.1 < 15
    assert drain(RevealPacer(TypingSpeed.FAST), 20_000) * 0.1 < 5


def test_never_reveals_more_than_waits() -> None:
    pacer = RevealPacer(TypingSpeed.FAST)
    assert pacer.allowance(3, 10.0) == 3
    assert pacer.allowance(0, 0.1) == 0
