"""What the sync and async clients share besides the calls: building a request, reading an
answer, and the state of following a job's events (the cursor that never repeats or skips)."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any, Callable, Optional, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from . import _calls as calls
from . import models as m
from ._calls import Call
from .errors import FigurError, JobFailed, from_answer

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: The hosted API; a local studio is ``http://127.0.0.1:8686`` (or what ``figur serve`` says).
DEFAULT_BASE_URL = "https://api.figur.fit"


def request_kwargs(base: str, key: str, call: Call[Any], timeout: float) -> dict[str, Any]:
    """httpx's arguments for ``call``. The key goes only to the API itself: an artifact's signed
    URL on another host (a bucket's) is fetched without it."""
    url = call.path if call.path.startswith(("http://", "https://")) else base + call.path
    headers = dict(call.headers)
    if url.startswith(base + "/"):
        headers["Authorization"] = f"Bearer {key}"
    kwargs: dict[str, Any] = {
        "url": url,
        "headers": headers,
        "timeout": httpx.Timeout(call.timeout or timeout, connect=10.0),
    }
    if call.params:
        kwargs["params"] = dict(call.params)
    if call.json is not None:
        kwargs["json"] = call.json
    if call.files is not None:
        kwargs["files"] = call.files
    return kwargs


def answer(call: Call[T], status: int, headers: Any, content: bytes, url: str) -> T:
    """The call's answer read, or the exception a non-2xx answer stands for."""
    if status >= 400:
        raise from_answer(status, content, headers, url)
    if call.raw:
        return call.read(content)
    try:
        data = json.loads(content or b"null")
    except ValueError:
        text = content[:120].decode("utf-8", "replace")
        raise FigurError("NOT_FIGUR", f"{url} answered HTTP {status} with something other than JSON: {text!r}") from None
    try:
        return call.read(data)
    except ValidationError as e:
        raise FigurError("UNEXPECTED_ANSWER", f"{url} answered in a form this client does not know: {e}") from e


def answer_error(r: httpx.Response, url: str) -> FigurError:
    return from_answer(r.status_code, r.content, r.headers, url)


def connection_error(base: str, e: Exception) -> FigurError:
    why = str(e) or type(e).__name__
    return FigurError("CONNECTION_ERROR", f"cannot reach the Figur API at {base}: {why}")


def timeout_error(url: str, e: Exception) -> FigurError:
    return FigurError("TIMEOUT", f"{url} did not answer in time ({type(e).__name__})")


def is_sse(headers: Any) -> bool:
    return "text/event-stream" in str(headers.get("content-type", ""))


def finished(job_id: str, events: list[m.JobEvent]) -> m.JobEvent:
    """The terminal event of a followed job; a failed one raises ``JobFailed`` with its code."""
    last = events[-1] if events else None
    if last is None or not calls.terminal(last):
        raise FigurError("CONNECTION_ERROR", f"job {job_id}'s events ended before its terminal event", job_id=job_id)
    if last.event_type == "failed":
        error = last.extra.get("error") if isinstance(last.extra, dict) else None
        error = error if isinstance(error, dict) else {}
        raise JobFailed(
            str(error.get("code") or "FAILED"),
            str(error.get("message") or last.message),
            job_id=job_id,
            event=last.model_dump(mode="json"),
        )
    return last


class RetryLater(Exception):
    """An answer of 429 or 503 to the event stream: try again after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Follow:
    """Following one job's events: the cursor (the last ``seq`` yielded), whether the server
    streams, and the deadline. ``take`` is the one place events pass: each once, in order."""

    def __init__(
        self, job_id: str, since: int, follow: bool, stream: bool, wait: int, deadline: Optional[float]
    ) -> None:
        self.job_id = job_id
        self.last = since
        self.follow = follow
        self.sse = stream and follow
        self.wait = max(0, min(wait, 30))
        self.deadline = deadline
        self.done = False

    def take(self, events: Iterable[m.JobEvent]) -> list[m.JobEvent]:
        out = []
        for event in sorted(events, key=lambda e: e.seq):
            if self.done or event.seq <= self.last:
                continue
            out.append(event)
            self.last = event.seq
            self.done = calls.terminal(event)
        return out

    def remaining(self) -> Optional[float]:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check_deadline(self) -> None:
        left = self.remaining()
        if left is not None and left <= 0:
            raise FigurError(
                "TIMEOUT",
                f"job {self.job_id} did not end in time; it keeps running (cancel it with cancel())",
                job_id=self.job_id,
            )

    def poll_wait(self) -> int:
        if not self.follow:
            return 0
        left = self.remaining()
        return self.wait if left is None else max(0, min(self.wait, int(left)))

    def pause_after(self, new: list[m.JobEvent], started: float) -> float:
        """Seconds to wait before the next page: none after news; a second when the server
        answered an empty page at once (one that does not long-poll)."""
        if not self.follow:
            self.done = True
            return 0.0
        return 1.0 if not new and time.monotonic() - started < 1.0 else 0.0

    def sse_call(self) -> Call[Any]:
        return Call(
            "GET",
            f"/v1/jobs/{_seg(self.job_id)}/events",
            lambda data: data,
            params={"since": self.last},
            headers={"Accept": "text/event-stream"},
        )

    def sse_read_timeout(self) -> float:
        # The server sends a keep-alive comment every 15 s: a minute of silence is a dead line.
        left = self.remaining()
        return 60.0 if left is None else max(1.0, min(60.0, left))


def _seg(value: str) -> str:
    """An id as one path segment; one that could reach another path is refused."""
    if not value or "/" in value or value in (".", ".."):
        raise FigurError("BAD_INPUT", f"`{value}` is not an id")
    return urllib.parse.quote(value, safe="")


def _key(value: str) -> str:
    """An upload key (``uploads/…/name.png``) as path segments."""
    parts = value.split("/")
    if not value or any(p in ("", ".", "..") for p in parts):
        raise FigurError("BAD_INPUT", f"`{value}` is not an upload key")
    return "/".join(urllib.parse.quote(p, safe="") for p in parts)


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _flag(value: Optional[bool]) -> Optional[str]:
    return None if value is None else ("true" if value else "false")


def _raw(data: Any) -> bytes:
    return bytes(data)


def _text(data: Any) -> str:
    return bytes(data).decode("utf-8", "replace")


def _as_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise FigurError("UNEXPECTED_ANSWER", "expected a JSON object")
    return data


def _list_of(kind: type[M]) -> Callable[[Any], list[M]]:
    adapter = TypeAdapter(list[kind])  # type: ignore[valid-type]
    return lambda data: adapter.validate_python(data)

