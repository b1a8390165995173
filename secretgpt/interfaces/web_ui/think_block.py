"""`ThinkBlock`: the model's reasoning in its own collapsible block, in the think colour, never
mixed into the answer."""

from __future__ import annotations

from nicegui import ui

from .remote_image import ImageFetcher
from .streaming_markdown import StreamingMarkdown


# Without an emoji font (common on Linux) 🧠 shows as a box: the default emoji is drawn as a
# Material icon instead (a THINK_EMOJI of one's own is shown as it is).
EMOJI_ICONS = {"🧠": "psychology"}


class ThinkBlock(ui.expansion):
    def __init__(self, emoji: str, color: str, images: ImageFetcher | None = None) -> None:
        icon = EMOJI_ICONS.get(emoji)
        self._emoji = "" if icon else f"{emoji} "  # the labels' prefix
        super().__init__(f"{self._emoji}Thinking…", icon=icon, value=True)
        self.classes("w-full sg-think").mark("think").props("dense header-class='text-sm'").style(f"color: {color}")
        with self:
            self._body = StreamingMarkdown(images)

    def append(self, text: str) -> None:
        self._body.append(text)

    def flush(self) -> None:
        self._body.flush()

    @property
    def sent(self) -> int:
        return self._body.sent

    def done(self, seconds: float | None) -> None:
        """Thinking is over: label it with its duration and fold it away (re-openable)."""
        self._body.finish()
        if seconds is None:
            self.text = f"{self._emoji}Reasoning"  # arrived whole: its duration is unknown
        elif seconds < 0.1:
            self.text = f"{self._emoji}Thought briefly"
        else:
            self.text = f"{self._emoji}Thought for {seconds:.0f} s" if seconds >= 1 else \
                f"{self._emoji}Thought for {seconds:.1f} s"
        self.value = False
