"""The empty chat: a short welcome and a few example prompts (a click sends one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

# Any model: what people ask a private assistant.
PROMPTS = (
    "Explain how a confidential VM keeps my prompt private, in three short paragraphs.",
    "Compare Python, Go and Rust for a small web service, in a table.",
    "Write a Python function that checks whether a string is a palindrome, with tests.",
    "Think it through step by step: how many Fridays are there in a leap year?",
)
# The offline demo answers with reasoning, a table and code (~10 s of streaming; over 30 s when
# asked for something long): these say which part of the page each one shows off.
DEMO_PROMPTS = (
    "Think before you answer: what does the reasoning block show?",
    "Compare Stop, Pause and Resume in a table.",
    "Show me Python code that streams an answer from the HTTP API.",
    "Write a long answer so I can try Pause and Stop while it streams.",
)


class Welcome(ui.column):
    def __init__(self, demo: bool, send: Callable[[str], Awaitable[None]]) -> None:
        super().__init__()
        self.classes("w-full items-center gap-3 py-8 sg-welcome").mark("welcome")
        with self:
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.icon("lock").classes("text-2xl")  # not 🔒: a box without an emoji font
                ui.label("Welcome to SecretGPT").classes("text-2xl font-medium text-center")
            ui.label("Answers come from Secret AI's confidential VMs, and each one shows whether its VM "
                     "was verified. Ask anything, or start with one of these:" if not demo else
                     "This is the offline demo model: its answers are canned, but they stream like a real "
                     "one, with reasoning, a table and code. Try one of these:") \
                .classes("text-center text-grey-7 max-w-xl")
            with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 gap-2 w-full max-w-2xl"):
                for prompt in DEMO_PROMPTS if demo else PROMPTS:
                    ui.button(prompt, on_click=lambda p=prompt: send(p)) \
                        .props("outline no-caps align=left").classes("text-left normal-case sg-example") \
                        .mark("example-prompt")
