"""``Figur``: the blocking client (httpx). Every ``/v1`` operation is a method; ``run`` dispatches
a workflow and follows it to its end; ``events`` yields a job's events each exactly once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from typing import Any, Callable, Optional, TypeVar, Union

import httpx

from . import _calls as calls
from . import models as m
from ._calls import Call
from ._common import (
    DEFAULT_BASE_URL,
    Follow,
    RetryLater,
    _as_dict,
    _flag,
    _key,
    _list_of,
    _params,
    _raw,
    _seg,
    _text,
    answer,
    answer_error,
    connection_error,
    finished,
    is_sse,
    request_kwargs,
    timeout_error,
)
from ._files import Uploadable, read
from .errors import FigurError
from .results import RunResult

T = TypeVar("T")


class Figur:
    """A client of one Figur API: a local studio (``http://127.0.0.1:8686``) or the hosted one.

    ``base_url`` defaults to ``FIGUR_BASE_URL``, else the hosted API; ``api_key`` to
    ``FIGUR_API_KEY``. 429 and 503 answers are retried after their ``Retry-After`` (at most
    ``max_retries`` times); every call has a timeout; a dispatch carries an idempotency key, so
    a retried one never charges twice.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        self.base_url = calls.base_url(base_url or os.environ.get("FIGUR_BASE_URL") or DEFAULT_BASE_URL)
        key = api_key or os.environ.get("FIGUR_API_KEY")
        if not key:
            raise FigurError("UNAUTHORIZED", "no API key: pass api_key= or set FIGUR_API_KEY")
        self._key = key
        self._timeout = timeout
        self._max_retries = max_retries
        self._http = http_client or httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Figur":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------------

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            kwargs = request_kwargs(self.base_url, self._key, call, self._timeout)
            try:
                r = self._http.request(call.method, **kwargs)
            except httpx.TimeoutException as e:
                if call.repeatable and attempt < self._max_retries:
                    attempt += 1
                    continue
                raise timeout_error(kwargs["url"], e) from e
            except httpx.TransportError as e:
                if call.repeatable and attempt < self._max_retries:
                    time.sleep(calls.retry_after(None, attempt))
                    attempt += 1
                    continue
                raise connection_error(self.base_url, e) from e
            if r.status_code in (429, 503) and attempt < self._max_retries:
                time.sleep(calls.retry_after(r.headers, attempt))
                attempt += 1
                continue
            return answer(call, r.status_code, r.headers, r.content, kwargs["url"])

    def download(self, url: str) -> bytes:
        """The bytes of an artifact's (signed) ``image_url``."""
        return self._send(Call("GET", url, _raw, raw=True))

    def upload(self, file: Uploadable, name: Optional[str] = None) -> m.UploadAccepted:
        """``POST /v1/uploads``: a path, bytes, a binary file or a PIL image; its key goes in
        request bodies (``user_image``, ``trial_image``, ``source_image_s3_key``…)."""
        file_name, data = read(file, name)
        call = Call("POST", "/v1/uploads", calls.model(m.UploadAccepted), files={"file": (file_name, data)})
        return self._send(call)

    def dispatch(
        self, workflow: str, body: calls.Body, *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """``POST /v1/<workflow>``: the 202's job id, status and cost."""
        return self._send(calls.dispatch(workflow, body, idempotency_key))

    # -- following -------------------------------------------------------------------------

    def events(
        self, job_id: str, since: int = 0, *, follow: bool = True, stream: bool = True, wait: int = 25
    ) -> Iterator[m.JobEvent]:
        """The job's events after ``since``, in order, each exactly once. With ``follow`` (the
        default) it waits for new ones until the terminal event — by Server-Sent Events where
        the server offers them (``stream``), else by long-polled pages — and reconnects from the
        last one seen if the connection drops; without, it yields what exists now."""
        yield from self._follow(Follow(job_id, since, follow, stream, wait, deadline=None))

    def _follow(self, f: Follow) -> Iterator[m.JobEvent]:
        failures = 0
        while not f.done:
            f.check_deadline()
            progress = f.last
            try:
                if f.sse:
                    for event in self._stream(f):
                        yield event
                else:
                    started = time.monotonic()
                    page = self._send(calls.events_page(f.job_id, f.last, f.poll_wait()))
                    new = f.take(page.events)
                    yield from new
                    time.sleep(f.pause_after(new, started))
                failures = 0
            except RetryLater as later:
                # Too many requests (or a studio busy for a moment): after its Retry-After.
                failures = failures + 1 if f.last == progress else 1
                if failures > self._max_retries:
                    raise FigurError("RATE_LIMITED", "the event stream was refused too often", job_id=f.job_id) from None
                time.sleep(later.seconds)
                continue
            except httpx.TransportError as e:
                # The stream broke (or never opened): again from the last event seen. Pages
                # sent through `_send` have had their retries already. A stream that broke
                # after news starts the count again: only a dead line runs it out.
                failures = failures + 1 if f.last == progress else 1
                if failures > self._max_retries:
                    raise connection_error(self.base_url, e) from e
                time.sleep(calls.retry_after(None, failures))

    def _stream(self, f: Follow) -> Iterator[m.JobEvent]:
        kwargs = request_kwargs(self.base_url, self._key, f.sse_call(), f.sse_read_timeout())
        with self._http.stream("GET", **kwargs) as r:
            if r.status_code in (429, 503):
                raise RetryLater(calls.retry_after(r.headers, 0))
            if r.status_code >= 400:
                r.read()
                raise answer_error(r, kwargs["url"])
            if not is_sse(r.headers):
                # A server that answers the stream with a JSON page (the hosted API may): pages.
                r.read()
                f.sse = False
                yield from f.take(calls.model(m.JobEvents)(r.json()).events)
                return
            parser = calls.SseParser()
            for line in r.iter_lines():
                data = parser.feed(line)
                if data is not None:
                    yield from f.take([m.JobEvent.model_validate(data)])
                    if f.done:
                        return

    def run(
        self,
        workflow: str,
        body: calls.Body,
        *,
        timeout: float = 900.0,
        on_event: Optional[Callable[[m.JobEvent], None]] = None,
        idempotency_key: Optional[str] = None,
        stream: bool = True,
    ) -> RunResult:
        """Dispatches ``workflow`` and follows it to its end: the finished job (``.save(dir)``
        writes its images). A failed job raises ``JobFailed`` with its code; no end within
        ``timeout`` seconds raises ``FigurError('TIMEOUT')`` (the job keeps running: ``cancel``)."""
        accepted = self.dispatch(workflow, body, idempotency_key=idempotency_key)
        f = Follow(accepted.job_id, 0, True, stream, 25, deadline=time.monotonic() + timeout)
        seen: list[m.JobEvent] = []
        for event in self._follow(f):
            seen.append(event)
            if on_event is not None:
                on_event(event)
        last = finished(accepted.job_id, seen)
        render = self._render_if_filed(accepted.job_id)
        return RunResult(accepted.job_id, list(last.artifacts), render, dict(last.extra), seen, self)

    def _render_if_filed(self, job_id: str) -> Optional[m.Render]:
        try:
            return self.render(job_id)
        except FigurError as e:
            if e.status == 404:
                return None  # generators file catalog entries, not renders
            raise

    # -- every other operation -------------------------------------------------------------

    def metrics(self) -> str:
        """`GET /metrics` (extension): the server's metrics in Prometheus' text format."""
        return self._send(Call("GET", "/metrics", _text, raw=True))

    def generative_models(self) -> m.GenerativeView:
        """`GET /v1/generative-models` (extension): the added diffusion models and each use's default."""
        return self._send(calls.get("/v1/generative-models", m.GenerativeView))

    def set_default_model(self, use: str, model: Optional[str]) -> m.GenerativeView:
        """`PUT /v1/generative-models/defaults/{use}` (extension): the model a use takes when a
        request names none (``None`` clears it)."""
        path = f"/v1/generative-models/defaults/{_key(use)}"
        return self._send(calls.Call("PUT", path, calls.model(m.GenerativeView), json={"model": model}))

    def health(self) -> m.Health:
        """`GET /v1/health` (no key needed): whether the server is up."""
        return self._send(calls.get("/v1/health", m.Health))

    def openapi(self) -> dict[str, Any]:
        """`GET /v1/openapi.json`: the API's own description."""
        return self._send(calls.Call("GET", "/v1/openapi.json", _as_dict))

    def operations(self) -> m.OperationList:
        """`GET /v1/operations`: every workflow, its class, price and whether it runs here."""
        return self._send(calls.get("/v1/operations", m.OperationList))

    def credits(self) -> m.Credits:
        """`GET /v1/credits`: the balance."""
        return self._send(calls.get("/v1/credits", m.Credits))

    def usage(self, limit: Optional[int] = None, offset: Optional[int] = None) -> m.UsageList:
        """`GET /v1/usage`: debits and refunds, newest first."""
        return self._send(calls.get("/v1/usage", m.UsageList, limit=limit, offset=offset))

    def garment_categories(self) -> list[m.GarmentCategory]:
        """`GET /v1/garment-categories`."""
        return self._send(calls.Call("GET", "/v1/garment-categories", _list_of(m.GarmentCategory)))

    def compatibility(self, body: calls.Body) -> m.CompatibilityResponse:
        """`POST /v1/compatibility/check`: which complementary garments go with a product."""
        return self._send(calls.post("/v1/compatibility/check", m.CompatibilityResponse, calls.dump(body), repeatable=True))

    def catalog(self, resource: str, status: Optional[str] = None, gender: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None) -> list[m.CatalogEntry]:
        """`GET /v1/catalog/{resource}`: `models`, `backgrounds` or `complementary-garments`."""
        return self._send(calls.Call("GET", f"/v1/catalog/{_seg(resource)}", _list_of(m.CatalogEntry), params=_params(status=status, gender=gender, limit=limit, offset=offset)))

    def catalog_models(self, status: Optional[str] = None, gender: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None) -> list[m.CatalogEntry]:
        """`GET /v1/catalog/models`."""
        return self._send(calls.Call("GET", "/v1/catalog/models", _list_of(m.CatalogEntry), params=_params(status=status, gender=gender, limit=limit, offset=offset)))

    def catalog_entry(self, resource: str, public_id: str) -> m.CatalogEntry:
        """`GET /v1/catalog/{resource}/{public_id}`."""
        return self._send(calls.get(f"/v1/catalog/{_seg(resource)}/{_seg(public_id)}", m.CatalogEntry))

    def add_catalog_model(self, body: calls.Body) -> m.CatalogEntry:
        """`POST /v1/catalog/models` (a studio extension): an uploaded photo of your own model."""
        return self._send(calls.post("/v1/catalog/models", m.CatalogEntry, calls.dump(body)))

    def jobs(self, limit: Optional[int] = None, offset: Optional[int] = None, status: Optional[str] = None, job_type: Optional[str] = None) -> m.JobList:
        """`GET /v1/jobs`, newest first."""
        return self._send(calls.get("/v1/jobs", m.JobList, limit=limit, offset=offset, status=status, job_type=job_type))

    def job(self, job_id: str) -> m.JobDetail:
        """`GET /v1/jobs/{job_id}`."""
        return self._send(calls.get(f"/v1/jobs/{_seg(job_id)}", m.JobDetail))

    def cancel(self, job_id: str) -> m.JobDetail:
        """`POST /v1/jobs/{job_id}/cancel`: the job ends `failed` with `JOB_CANCELLED`, refunded."""
        return self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/cancel", m.JobDetail, repeatable=True))

    def pause(self, job_id: str) -> m.JobDetail:
        """`POST /v1/jobs/{job_id}/pause` (extension): held until resumed."""
        return self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/pause", m.JobDetail, repeatable=True))

    def resume(self, job_id: str) -> m.JobDetail:
        """`POST /v1/jobs/{job_id}/resume` (extension)."""
        return self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/resume", m.JobDetail, repeatable=True))

    def priority(self, job_id: str, priority: int) -> m.JobDetail:
        """`POST /v1/jobs/{job_id}/priority` (extension): -100 to 100, higher runs first."""
        return self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/priority", m.JobDetail, {"priority": priority}, repeatable=True))

    def vary(self, job_id: str, count: int = 1) -> m.Variations:
        """`POST /v1/jobs/{job_id}/vary` (extension): the same request with new seeds."""
        return self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/vary", m.Variations, {"count": count}))

    def webhooks(self, job_id: str) -> m.WebhookDeliveries:
        """`GET /v1/jobs/{job_id}/webhooks` (extension): the job's delivery attempts."""
        return self._send(calls.get(f"/v1/jobs/{_seg(job_id)}/webhooks", m.WebhookDeliveries))

    def queue(self, limit: Optional[int] = None, offset: Optional[int] = None) -> m.JobList:
        """`GET /v1/queue` (extension): waiting and running jobs in run order."""
        return self._send(calls.get("/v1/queue", m.JobList, limit=limit, offset=offset))

    def renders(self, origin: Optional[str] = None, category: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None) -> m.RenderList:
        """`GET /v1/renders`: the gallery, newest first."""
        return self._send(calls.get("/v1/renders", m.RenderList, origin=origin, category=category, limit=limit, offset=offset))

    def render(self, public_id: str) -> m.Render:
        """`GET /v1/renders/{public_id}` (a render's id is its job's)."""
        return self._send(calls.get(f"/v1/renders/{_seg(public_id)}", m.Render))

    def uploads(self, q: Optional[str] = None, tag: Optional[str] = None, favourite: Optional[bool] = None, folder: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None) -> m.UploadList:
        """`GET /v1/uploads` (extension): the library, newest first."""
        return self._send(calls.get("/v1/uploads", m.UploadList, q=q, tag=tag, favourite=_flag(favourite), folder=folder, limit=limit, offset=offset))

    def edit_upload(self, upload_key: str, tags: Optional[list[str]] = None, favourite: Optional[bool] = None) -> m.LibraryImage:
        """`PATCH /v1/uploads/{upload_key}` (extension): tags and the favourite mark."""
        return self._send(calls.Call("PATCH", f"/v1/uploads/{_key(upload_key)}", calls.model(m.LibraryImage), json=_params(tags=tags, favourite=favourite)))

    def tags(self) -> list[m.TagCount]:
        """`GET /v1/tags` (extension): every tag with its count."""
        return self._send(calls.Call("GET", "/v1/tags", _list_of(m.TagCount)))

    def try_on(
        self, body: Union[m.TryOnRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/try-on`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("try-on", body, idempotency_key=idempotency_key)

    def extract(
        self, body: Union[m.ExtractRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/extract`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("extract", body, idempotency_key=idempotency_key)

    def look(
        self, body: Union[m.LookRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/look`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("look", body, idempotency_key=idempotency_key)

    def model_generator(
        self, body: Union[m.ModelGeneratorRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/model-generator`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("model-generator", body, idempotency_key=idempotency_key)

    def background_generator(
        self, body: Union[m.BackgroundGeneratorRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/background-generator`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("background-generator", body, idempotency_key=idempotency_key)

    def complementary_garment_generator(
        self, body: Union[m.ComplementaryGarmentGeneratorRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/complementary-garment-generator`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("complementary-garment-generator", body, idempotency_key=idempotency_key)

    def product_to_model_direct(
        self, body: Union[m.ProductToModelRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/product-to-model-direct`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("product-to-model-direct", body, idempotency_key=idempotency_key)

    def product_to_model_phased(
        self, body: Union[m.ProductToModelRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/product-to-model-phased`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("product-to-model-phased", body, idempotency_key=idempotency_key)

    def background_swap_with_image(
        self, body: Union[m.BackgroundSwapWithImageRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/background-swap-with-image`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("background-swap-with-image", body, idempotency_key=idempotency_key)

    def background_swap_with_spec(
        self, body: Union[m.BackgroundSwapWithSpecRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/background-swap-with-spec`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("background-swap-with-spec", body, idempotency_key=idempotency_key)

    def model_swap_with_image(
        self, body: Union[m.ModelSwapWithImageRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/model-swap-with-image`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("model-swap-with-image", body, idempotency_key=idempotency_key)

    def upscale(
        self, body: Union[m.UpscaleRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/upscale`: dispatches the job (see `run` to wait for it)."""
        return self.dispatch("upscale", body, idempotency_key=idempotency_key)
