"""A user turn with its files, as the model is sent it: each document's text inside the turn,
between lines that name the file, within MAX_ATTACHMENT_CHARS for the message (over it, the turn
says what was cut); each image beside the text, for the protocol to send its own way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..records import Attachment, ChatTurn, ExtractedFile, TurnAttachment


def shares(lengths: Sequence[int], budget: int) -> list[int]:
    """How many characters of each text fit: an equal share each, what a short one leaves over
    going to the longer ones."""
    given = [0] * len(lengths)
    left, waiting = budget, sorted(range(len(lengths)), key=lambda i: lengths[i])
    while waiting:
        share = left // len(waiting)
        index = waiting.pop(0)
        given[index] = min(lengths[index], share)
        left -= given[index]
    return given


def _describe(attachment: Attachment) -> str:
    kind = {"application/pdf": "PDF"}.get(attachment.media_type, "Word document" if "word" in attachment.media_type
                                         else "text")
    pages = f", {attachment.pages:,} page{'s' if attachment.pages != 1 else ''}" if attachment.pages else ""
    return f"{kind}{pages}"


def document_block(attachment: Attachment, text: str, included: int, budget: int) -> str:
    head = f"--- Attached file: {attachment.name} ({_describe(attachment)}) ---"
    if not text.strip():
        body = "[No text could be extracted from this file (a scan or an image-only PDF has none).]"
    elif included >= len(text):
        body = text
    elif included == 0:
        body = (f"[Left out: its {len(text):,} characters did not fit in the {budget:,} characters "
                "(MAX_ATTACHMENT_CHARS) this message's files may take.]")
    else:
        body = (text[:included] + f"\n[Cut here: only the first {included:,} of its {len(text):,} characters are "
                f"included; this message's files may take {budget:,} characters (MAX_ATTACHMENT_CHARS).]")
    return f"{head}\n{body}\n--- End of {attachment.name} ---"


def user_turn(message: str, attachments: Sequence[Attachment], contents: Mapping[str, ExtractedFile], *,
              budget: int, vision: bool) -> ChatTurn:
    """The turn as sent. `vision`: whether the model sees images (if not, an earlier turn's image is
    named in the text instead: the check before sending refuses a new one)."""
    documents = [(a, (contents[a.file_id].text or "") if a.file_id in contents else "")
                 for a in attachments if a.kind == "text"]
    fits = shares([len(text) for _, text in documents], budget)
    blocks = [document_block(a, text, n, budget) for (a, text), n in zip(documents, fits)]
    sent: list[TurnAttachment] = []
    for a in attachments:
        data = contents[a.file_id].data if a.kind == "image" and a.file_id in contents else None
        if a.kind == "image" and not vision:
            blocks.append(f"[An image, {a.name}, was attached here; this model cannot see images.]")
            data = None
        sent.append(TurnAttachment.of(a, data))
    content = "\n\n".join([message, *blocks]) if message.strip() else "\n\n".join(blocks)
    return ChatTurn(role="user", content=content, attachments=sent)
