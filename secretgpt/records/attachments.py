"""Files attached to a message: what a person sees of each (name, size, pages or characters, a
thumbnail), what the model is sent (the extracted text inside the user turn, or the image itself),
and the errors a file can get. Nothing here imports anything else of the app."""

from __future__ import annotations

import base64
import re
from typing import Literal

from pydantic import BaseModel, Field

AttachmentKind = Literal["text", "image"]


class Attachment(BaseModel):
    """One file as it is shown and listed: what `POST /api/v1/files` returns, and what each message
    carries (`StoredMessage.attachments`)."""

    file_id: str
    name: str
    kind: AttachmentKind
    media_type: str
    size: int  # bytes of the file as uploaded
    sha256: str  # of the file as uploaded (hex): what a proof names
    chars: int | None = None  # extracted text (text files)
    pages: int | None = None  # PDF only
    # A small PNG/JPEG drawn on this machine from the image (a data: URL): shown without a click,
    # because it never leaves the app.
    thumbnail: str | None = Field(None, exclude=True)

    @property
    def label(self) -> str:
        """What a chip says after the name: size, and pages or characters."""
        parts = [size_words(self.size)]
        if self.pages is not None:
            parts.append(f"{self.pages:,} page{'s' if self.pages != 1 else ''}")
        if self.kind == "text" and self.chars is not None:
            parts.append(f"{self.chars:,} characters")
        return ", ".join(parts)


class ExtractedFile(BaseModel):
    """A file read on this machine: its listing, and what goes to the model."""

    attachment: Attachment
    text: str | None = None  # kind text: the whole extracted text
    data: bytes | None = None  # kind image: the image's bytes as uploaded


class TurnAttachment(BaseModel):
    """A file as a chat turn carries it to the model. Proofs keep it by its hash: `data` (the image,
    base64) is sent but never stored with the turn."""

    name: str
    kind: AttachmentKind
    media_type: str
    size: int
    sha256: str
    data: str = Field("", exclude=True, repr=False)

    @property
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.data}"

    @classmethod
    def of(cls, attachment: Attachment, data: bytes | None) -> TurnAttachment:
        return cls(name=attachment.name, kind=attachment.kind, media_type=attachment.media_type,
                   size=attachment.size, sha256=attachment.sha256,
                   data=base64.b64encode(data).decode() if data else "")


class UnreadableFile(ValueError):
    """The file is not what its name says, or cannot be read; the message is a sentence for the
    person who sent it (the API's 422)."""


class FileTooLarge(ValueError):
    """Over MAX_UPLOAD_MB (the API's 413)."""


class FileNotFound(LookupError):
    """No such upload of this owner's, or one already sent with another message."""


class CannotSeeImages(ValueError):
    """Images attached for a model that cannot see them: refused before anything is sent."""


def size_words(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


# Names that vision models go by on Ollama and vLLM hosts (qwen3-vl, qwen2.5vl, llama3.2-vision,
# llava, bakllava, pixtral, minicpm-v, moondream, gemma3 …): a model's name is all an
# OpenAI-compatible /v1/models says about it.
VISION_NAME = re.compile(r"(?:^|[-_.:/])(?:[a-z0-9.]*vl|vision|llava|bakllava|pixtral|minicpm-v|moondream|"
                         r"gemma3|llama4|mistral-small3\.[12])(?:$|[-_.:/\d])|vl(?::|$)", re.IGNORECASE)


def can_see_images(name: str, vision: bool | None) -> bool:
    """What discovery said (Ollama's /api/show capabilities), else the model's name."""
    return vision if vision is not None else bool(VISION_NAME.search(name))
