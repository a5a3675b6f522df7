"""What every API call is, independent of how it is sent: the method, the path, the query, the
body and how the answer is read. The sync and async clients send the same ``Call`` objects, so
the two cannot drift apart."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, Callable, Generic, Optional, TypeVar, Union

from pydantic import BaseModel

from . import models as m
from .errors import FigurError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: A request body: a generated model or a plain mapping (sent as it is: the server checks it).
Body = Union[BaseModel, Mapping[str, Any]]

#: Every workflow (``POST /v1/<name>``) and its request model; a test holds it to openapi.json.
WORKFLOWS: dict[str, type[BaseModel]] = {
    "try-on": m.TryOnRequest,
    "extract": m.ExtractRequest,
    "look": m.LookRequest,
    "model-generator": m.ModelGeneratorRequest,
    "background-generator": m.BackgroundGeneratorRequest,
    "complementary-garment-generator": m.ComplementaryGarmentGeneratorRequest,
    "product-to-model-direct": m.ProductToModelRequest,
    "product-to-model-phased": m.ProductToModelRequest,
    "background-swap-with-image": m.BackgroundSwapWithImageRequest,
    "background-swap-with-spec": m.BackgroundSwapWithSpecRequest,
    "model-swap-with-image": m.ModelSwapWithImageRequest,
    "upscale": m.UpscaleRequest,
}


@dataclasses.dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[Any], T]
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    json: Any = None
    files: Any = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Whether it may be sent again after the connection failed mid-way (reads, and dispatches
    #: that carry an idempotency key: the server answers a repeat with the first job).
    repeatable: bool = True
    #: Seconds to wait for the answer (a long-poll waits longer than the client's default).
    timeout: Optional[float] = None
    #: ``read`` gets the answer's bytes, not its JSON (images).
    raw: bool = False


def model(kind: type[M]) -> Callable[[Any], M]:
    return kind.model_validate


def dump(body: Body) -> dict[str, Any]:
    """A body as JSON: a model without its unset options, a mapping as given."""
    if isinstance(body, BaseModel):
        dumped = body.model_dump(mode="json", exclude_none=True, by_alias=True)
        if not isinstance(dumped, dict):
            raise FigurError("BAD_INPUT", f"{type(body).__name__} is not a JSON object")
        return dumped
    if isinstance(body, Mapping):
        return dict(body)
    raise FigurError("BAD_INPUT", f"a request body is a model or a mapping, not {type(body).__name__}")


def workflow_name(workflow: str) -> str:
    name = workflow.strip().strip("/").removeprefix("v1/")
    if name not in WORKFLOWS:
        raise FigurError("BAD_INPUT", f"no workflow `{workflow}`; one of {', '.join(WORKFLOWS)}")
    return name


def dispatch(workflow: str, body: Body, idempotency_key: Optional[str]) -> Call[m.DispatchAccepted]:
    """``POST /v1/<workflow>``, with an idempotency key (a new one unless given): a dispatch sent
    again after a lost answer or a 429/503 is answered with the first job, never charged twice."""
    key = idempotency_key or uuid.uuid4().hex
    return Call(
        "POST",
        f"/v1/{workflow_name(workflow)}",
        model(m.DispatchAccepted),
        json=dump(body),
        headers={"Idempotency-Key": key},
    )


def get(path: str, kind: type[M], **params: Any) -> Call[M]:
    return Call("GET", path, model(kind), params={k: v for k, v in params.items() if v is not None})


def post(path: str, kind: type[M], body: Any = None, *, repeatable: bool = False) -> Call[M]:
    return Call("POST", path, model(kind), json=body, repeatable=repeatable)


def events_page(job_id: str, since: int, wait: int) -> Call[m.JobEvents]:
    return Call(
        "GET",
        f"/v1/jobs/{job_id}/events",
        model(m.JobEvents),
        params={"since": since, "wait": wait} if wait else {"since": since},
        headers={"Accept": "application/json"},
        timeout=wait + 15.0,
    )


def retry_after(headers: Any, attempt: int) -> float:
    """Seconds to wait before trying again: the answer's ``Retry-After`` (seconds or a date),
    else an exponential backoff; never more than a minute."""
    value = headers.get("retry-after") if headers is not None else None
    if value:
        try:
            return float(min(max(float(value), 0.0), 60.0))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            if when is not None:
                return float(min(max(when.timestamp() - time.time(), 0.0), 60.0))
    return float(min(0.5 * 2**attempt, 30.0))


def base_url(url: str) -> str:
    """``http://host:8686/``, ``…/v1`` and ``…/v1/`` all name the same API root."""
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    if not url.startswith(("http://", "https://")):
        raise FigurError("BAD_INPUT", f"the base URL `{url}` is not http(s)")
    return url


def terminal(event: m.JobEvent) -> bool:
    return event.event_type in ("succeeded", "failed")


class SseParser:
    """Server-Sent Events, line by line: yields each event's ``data`` as parsed JSON."""

    def __init__(self) -> None:
        self.data: list[str] = []

    def feed(self, line: str) -> Optional[Any]:
        if line == "":
            if not self.data:
                return None
            text, self.data = "\n".join(self.data), []
            return json.loads(text)
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if field == "data":
            self.data.append(value[1:] if value.startswith(" ") else value)
        return None
