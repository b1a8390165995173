"""What every API route shares: the bearer token, JSON bodies whatever their Content-Type, and
errors as `{"detail": {"message", "kind"}}` with the status that fits."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from ...hub import BadMessage, ConversationBusy, StreamNotFound, TooManyStreams
from ...records import ErrorKind, SecretAIError
from ...records import ConversationNotFound, ImportTooLarge, InvalidImport, MessageNotFound
from ...records import CannotSeeImages, FileNotFound, FileTooLarge, UnreadableFile

ERROR_STATUS = {ErrorKind.BAD_REQUEST: 422, ErrorKind.UNAVAILABLE: 503, ErrorKind.AUTH: 502,
                ErrorKind.UNREACHABLE: 502, ErrorKind.TIMEOUT: 504, ErrorKind.OVERLOADED: 503,
                ErrorKind.STORAGE: 500, ErrorKind.NOT_ATTESTED: 403, ErrorKind.REDIRECT: 502}


def api_error(status: int, message: str, kind: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"message": message, "kind": kind})


# The hub's refusals, in order (a subclass before its base): status and kind; the words are the
# exception's own unless a route's ids make better ones (`refused`).
REFUSALS: tuple[tuple[type[Exception], int, str], ...] = (
    (BadMessage, 422, "bad_request"),
    (TooManyStreams, 429, "too_many_streams"),
    (ConversationBusy, 409, "busy"),
    (ConversationNotFound, 404, "not_found"),
    (MessageNotFound, 404, "not_found"),
    (StreamNotFound, 404, "not_found"),
    (FileTooLarge, 413, "too_large"),
    (UnreadableFile, 422, "unreadable_file"),
    (CannotSeeImages, 422, "cannot_see_images"),
    (FileNotFound, 404, "not_found"),
    (ImportTooLarge, 413, "too_large"),  # over a cap on what one file may hold, like the body's size cap
    (InvalidImport, 422, "invalid_import"),
)


def refused(exc: Exception, *, conversation_id: str | None = None, stream_id: str | None = None) -> HTTPException:
    """The hub said no: the status and words for each of its refusals."""
    if isinstance(exc, ConversationNotFound):
        return api_error(404, f"No conversation {conversation_id!r}.", "not_found")
    if isinstance(exc, StreamNotFound):
        return api_error(404, f"No stream {stream_id!r} (it may have ended long ago).", "not_found")
    for kind_of, status, kind in REFUSALS:
        if isinstance(exc, kind_of):
            return api_error(status, str(exc), kind)
    if isinstance(exc, SecretAIError):
        return api_error(ERROR_STATUS.get(exc.kind, 502), exc.message, exc.kind.value)
    if isinstance(exc, ValueError):
        return api_error(422, str(exc), "bad_request")
    raise exc


def json_body(model: type[BaseModel]) -> Any:
    """Parse the body as JSON whatever the Content-Type: `curl -d '{...}'` sends form encoding."""

    async def parse(request: Request) -> BaseModel:
        raw = await request.body()
        if not raw.strip():
            # pydantic would say "Input should be an object", which does not tell a curl user much.
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "input": None,
                                           "msg": "the request body is empty; send JSON such as "
                                                  '{"message": "hi"}'}])
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from None

    return Depends(parse)


def owner_for_token(token: str) -> str:
    return "api:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def token_guard(api_token: str) -> Callable[..., str]:
    """A dependency that checks the bearer token and returns the owner it stands for."""

    def require_token(authorization: str | None = Header(None)) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_token.encode()):
            raise HTTPException(status_code=401, detail={"message": "Missing or invalid API token. Send "
                                "'Authorization: Bearer <token>' (printed at start-up).", "kind": "unauthorized"},
                                headers={"WWW-Authenticate": "Bearer"})
        return owner_for_token(api_token)

    return require_token


class ApiRoute(APIRoute):
    """An API route: a request it cannot take is answered in the API's error shape (below), not
    FastAPI's."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return validation_error(exc)

        return route


def validation_error(exc: RequestValidationError) -> JSONResponse:
    """422 with one line saying what is wrong with the request."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {err.get('msg')}")
    message = "Invalid request: " + "; ".join(problems)
    return JSONResponse({"detail": {"message": message, "kind": "bad_request"}}, status_code=422)
