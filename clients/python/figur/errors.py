"""Every failure the client reports: one exception type carrying the API's stable code."""

from __future__ import annotations

import json
from typing import Any, Optional


class FigurError(Exception):
    """A failed call or job.

    ``code`` is the error envelope's stable code (``VALIDATION_ERROR``, ``UNAUTHORIZED``…), a
    failed job's code (``NO_SUBJECT_FOUND``…), or the client's own: ``CONNECTION_ERROR`` (the
    server cannot be reached or went away), ``TIMEOUT`` (a wait ran out), ``NOT_FIGUR`` (the
    address answers, but not as a Figur API), ``BAD_INPUT`` (something the client refused
    before sending). ``field`` names the first field at fault (``items.0.trial_image``) when the
    server named one; ``details`` keeps every one.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: Optional[int] = None,
        field: Optional[str] = None,
        details: Optional[list[dict[str, Any]]] = None,
        request_id: Optional[str] = None,
        job_id: Optional[str] = None,
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.details = details or []
        self.request_id = request_id
        self.job_id = job_id
        where = f" ({field})" if field else ""
        super().__init__(f"{code}{where}: {message}")


class JobFailed(FigurError):
    """A job that ended ``failed``: ``code`` is its error code, ``event`` the terminal event."""

    def __init__(self, code: str, message: str, *, job_id: str, event: dict[str, Any]) -> None:
        super().__init__(code, message, job_id=job_id)
        self.event = event


def field_of(loc: Any) -> Optional[str]:
    """``["body", "items", 0, "trial_image"]`` → ``items.0.trial_image`` (the root dropped)."""
    if not isinstance(loc, list) or not loc:
        return None
    parts = [str(p) for p in loc[1:]] if loc[0] in ("body", "query", "header", "path") else [str(p) for p in loc]
    return ".".join(parts) or str(loc[0])


def from_answer(status: int, content: bytes, headers: Any, url: str) -> FigurError:
    """The exception for a non-2xx answer: the envelope's code, message, field and request id,
    or, for an answer that is no envelope, what the address is."""
    request_id = headers.get("x-request-id") if headers is not None else None
    try:
        body = json.loads(content or b"null")
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or "code" not in error:
        text = content[:200].decode("utf-8", "replace").strip()
        return FigurError(
            "NOT_FIGUR" if status not in (401, 403, 404) else _bare_code(status),
            f"{url} answered HTTP {status} without a Figur error envelope{': ' + text if text else ''}",
            status=status,
            request_id=request_id,
        )
    details = error.get("details") or []
    details = [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
    return FigurError(
        str(error["code"]),
        str(error.get("message", "")),
        status=status,
        field=field_of(details[0].get("loc")) if details else None,
        details=details,
        request_id=str(error.get("request_id") or request_id or "") or None,
    )


def _bare_code(status: int) -> str:
    return {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND"}.get(status, "HTTP_ERROR")
