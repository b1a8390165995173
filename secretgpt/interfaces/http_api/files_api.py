"""The files API: `POST /api/v1/files` (multipart, field `file`) reads an attachment on this
machine and keeps it for the next message, which names it in `"attachments": [file_id, …]`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, UploadFile
from pydantic import BaseModel

from ...hub import ChatHub
from ...records import Attachment, FileTooLarge, UnreadableFile
from .requests import ApiRoute, refused

READ_PIECE = 1 << 20


class FileAnswer(BaseModel):
    file_id: str
    name: str
    kind: str
    chars: int | None
    pages: int | None
    size: int
    media_type: str
    sha256: str

    @classmethod
    def of(cls, attachment: Attachment) -> FileAnswer:
        return cls.model_validate(attachment.model_dump())


def files_api(hub: ChatHub, require_token: Any) -> APIRouter:
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], route_class=ApiRoute)

    @api.post("/files", summary="Attach a file (PDF, DOCX, text, image) to the next message", status_code=201)
    async def upload(file: UploadFile = File(..., description="The file (multipart field `file`)"),
                     owner: str = Depends(require_token)) -> FileAnswer:
        try:
            # The body's cap (security.py) stops a larger request before it is read; this one
            # counts what arrived, for a multipart part bigger than its file claims.
            data = bytearray()
            while piece := await file.read(READ_PIECE):
                data += piece
                hub.check_upload_size(len(data))
            return FileAnswer.of(await hub.add_file(file.filename, bytes(data), owner=owner))
        except (FileTooLarge, UnreadableFile) as exc:
            raise refused(exc) from None
        finally:
            await file.close()

    return api
