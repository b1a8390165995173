"""The demo model's words (demo.py puts them together). Each opening says it is the demo; the
first three are its everyday wordings, the last two what a temperature above 1 adds."""

from __future__ import annotations

OPENINGS = (
    "**This is the offline demo model** — no `SECRET_AI_API_KEY` is set, so nothing left this machine.",
    "**This is the offline demo model**, answering from this machine: without a `SECRET_AI_API_KEY` there is no "
    "confidential VM to ask.",
    "**This is the offline demo model.** Nothing you type leaves this computer until a `SECRET_AI_API_KEY` is set.",
    "**This is the offline demo model** — in a lively mood (the temperature is high!), and still entirely on this "
    "machine, since no `SECRET_AI_API_KEY` is set.",
    "**This is the offline demo model**, improvising with abandon: a hot temperature, no `SECRET_AI_API_KEY`, and "
    "not one byte sent anywhere.",
)

CLOSINGS = (
    "1. Reasoning streams into its own block above the answer.\n"
    "2. The answer is rendered as Markdown while it streams.\n"
    "3. Everything is kept in your conversation history.",
    "- Reasoning has its own block, folded away once the answer starts.\n"
    "- Markdown renders as it streams.\n"
    "- The conversation is kept, and exported as JSON or Markdown.",
    "That is all the demo can show; with a Secret AI key, the same page talks to a confidential VM and says "
    "whether it was verified.",
    "And that, with a flourish, is the demo. A real key brings a real model, and an attestation badge on every "
    "answer.",
    "Curtain! The demo bows out; set `SECRET_AI_API_KEY` and a confidential VM takes the stage.",
)


def table_math_and_code(app_url: str) -> str:
    """The short answer's middle: a table of the streaming controls, math, and code that calls the
    app where it really runs."""
    return (
        "With a Secret AI key, answers come from a confidential VM instead. Meanwhile, here is what "
        "SecretGPT does while an answer streams:\n\n"
        "| Control | What it does |\n"
        "| --- | --- |\n"
        "| Stop | Closes the connection to the model at once; the partial answer is kept |\n"
        "| Pause | Holds the display; the model keeps writing into a buffer |\n"
        "| Resume | Catches up with everything written while paused |\n\n"
        "Math renders too: the pace of $n$ tokens in $t$ seconds is $r = \\frac{n}{t}$, and\n\n"
        "$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$\n\n"
        "Programs get the same stream as Server-Sent Events:\n\n"
        "```python\n"
        "import httpx\n\n"
        f"with httpx.stream(\"POST\", \"{app_url}/api/v1/chat/stream\",\n"
        "                  headers={\"Authorization\": f\"Bearer {token}\"},\n"
        "                  json={\"message\": \"hi\"}) as response:\n"
        "    for line in response.iter_lines():\n"
        "        print(line)\n"
        "```"
    )


# A long answer is paragraphs of these, drawn by the answer's own random generator.
STORY = (
    "Once, a token left the model with nothing but a few letters and a sense of purpose.",
    "It crossed the TLS connection in a single chunk, and the app wrote down the key of that connection.",
    "Behind it came its siblings, one every few milliseconds, each a word or part of one.",
    "At the hub the token was counted, hashed into the chain, and handed to every reader that asked.",
    "When the reader paused, the token waited in a buffer with the others, patient as a queue at a bakery.",
    "On Resume, the whole crowd rushed to the screen at once, and the page caught up in a blink.",
    "Nobody outside this machine ever saw it: the demo model lives here, and so does the conversation.",
    "Somewhere a Markdown block closed, and the renderer set it in stone, never to be touched again.",
    "The reader watched the words arrive, wondering when the story would end.",
    "A Stop would have closed the connection at once, and the story would have ended mid-sentence, kept as it was.",
    "The token reached the page, took its place in a paragraph, and was content.",
    "Later, an export would carry it to a file, still in order, still exactly itself.",
)

ESSAY = (
    "Streaming an answer token by token changes how waiting feels: the first words arrive in a fraction of a second.",
    "A confidential VM runs the model inside hardware that keeps even its host from reading the memory.",
    "Attestation is the VM's evidence of what it runs, signed by the hardware and checked by the app.",
    "The app binds that evidence to the TLS key of the very connection an answer streams over.",
    "Pausing holds the display while the model keeps writing, so nothing is lost and nothing is rushed.",
    "Stopping closes the connection to the model at once, which is also what stops the model from spending tokens.",
    "Markdown is rendered block by block: a block that has ended is never rendered again.",
    "Reasoning, when a model shows it, streams into its own block and folds away when the answer starts.",
    "Every answer is saved as it streams, so a crash costs at most the last couple of seconds.",
    "A proof of an answer records the turns sent, the text received, and a hash chain over every chunk.",
    "Model output is untrusted, so links are checked and images wait for a click before they load.",
    "A long answer like this one exists so that the controls can be tried without a real model.",
)
