"""``AsyncFigur``: the asyncio client (httpx), method for method the same as ``Figur``."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, Awaitable, Callable, Optional, TypeVar, Union

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
from .results import AsyncRunResult

T = TypeVar("T")


class AsyncFigur:
    """The asyncio twin of ``Figur`` (same arguments, same methods, awaited)."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self.base_url = calls.base_url(base_url or os.environ.get("FIGUR_BASE_URL") or DEFAULT_BASE_URL)
        key = api_key or os.environ.get("FIGUR_API_KEY")
        if not key:
            raise FigurError("UNAUTHORIZED", "no API key: pass api_key= or set FIGUR_API_KEY")
        self._key = key
        self._timeout = timeout
        self._max_retries = max_retries
        self._http = http_client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncFigur":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # -- sending ---------------------------------------------------------------------------

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            kwargs = request_kwargs(self.base_url, self._key, call, self._timeout)
            try:
                r = await self._http.request(call.method, **kwargs)
            except httpx.TimeoutException as e:
                if call.repeatable and attempt < self._max_retries:
                    attempt += 1
                    continue
                raise timeout_error(kwargs["url"], e) from e
            except httpx.TransportError as e:
                if call.repeatable and attempt < self._max_retries:
                    await asyncio.sleep(calls.retry_after(None, attempt))
                    attempt += 1
                    continue
                raise connection_error(self.base_url, e) from e
            if r.status_code in (429, 503) and attempt < self._max_retries:
                await asyncio.sleep(calls.retry_after(r.headers, attempt))
                attempt += 1
                continue
            return answer(call, r.status_code, r.headers, r.content, kwargs["url"])

    async def download(self, url: str) -> bytes:
        """The bytes of an artifact's (signed) ``image_url``."""
        return await self._send(Call("GET", url, _raw, raw=True))

    async def upload(self, file: Uploadable, name: Optional[str] = None) -> m.UploadAccepted:
        """``POST /v1/uploads``: a path, bytes, a binary file or a PIL image."""
        file_name, data = read(file, name)
        call = Call("POST", "/v1/uploads", calls.model(m.UploadAccepted), files={"file": (file_name, data)})
        return await self._send(call)

    async def dispatch(
        self, workflow: str, body: calls.Body, *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """``POST /v1/<workflow>``: the 202's job id, status and cost."""
        return await self._send(calls.dispatch(workflow, body, idempotency_key))

    # -- following -------------------------------------------------------------------------

    async def events(
        self, job_id: str, since: int = 0, *, follow: bool = True, stream: bool = True, wait: int = 25
    ) -> AsyncIterator[m.JobEvent]:
        """As ``Figur.events``: each event once, in order, to the terminal one."""
        async for event in self._follow(Follow(job_id, since, follow, stream, wait, deadline=None)):
            yield event

    async def _follow(self, f: Follow) -> AsyncIterator[m.JobEvent]:
        failures = 0
        while not f.done:
            f.check_deadline()
            progress = f.last
            try:
                if f.sse:
                    async for event in self._stream(f):
                        yield event
                else:
                    started = time.monotonic()
                    page = await self._send(calls.events_page(f.job_id, f.last, f.poll_wait()))
                    new = f.take(page.events)
                    for event in new:
                        yield event
                    await asyncio.sleep(f.pause_after(new, started))
                failures = 0
            except RetryLater as later:
                # Too many requests (or a studio busy for a moment): after its Retry-After.
                failures = failures + 1 if f.last == progress else 1
                if failures > self._max_retries:
                    raise FigurError("RATE_LIMITED", "the event stream was refused too often", job_id=f.job_id) from None
                await asyncio.sleep(later.seconds)
                continue
            except httpx.TransportError as e:
                # The stream broke (or never opened): again from the last event seen. Pages
                # sent through `_send` have had their retries already. A stream that broke
                # after news starts the count again: only a dead line runs it out.
                failures = failures + 1 if f.last == progress else 1
                if failures > self._max_retries:
                    raise connection_error(self.base_url, e) from e
                await asyncio.sleep(calls.retry_after(None, failures))

    async def _stream(self, f: Follow) -> AsyncIterator[m.JobEvent]:
        kwargs = request_kwargs(self.base_url, self._key, f.sse_call(), f.sse_read_timeout())
        async with self._http.stream("GET", **kwargs) as r:
            if r.status_code in (429, 503):
                raise RetryLater(calls.retry_after(r.headers, 0))
            if r.status_code >= 400:
                await r.aread()
                raise answer_error(r, kwargs["url"])
            if not is_sse(r.headers):
                await r.aread()
                f.sse = False
                for event in f.take(calls.model(m.JobEvents)(r.json()).events):
                    yield event
                return
            parser = calls.SseParser()
            async for line in r.aiter_lines():
                data = parser.feed(line)
                if data is not None:
                    for event in f.take([m.JobEvent.model_validate(data)]):
                        yield event
                    if f.done:
                        return

    async def run(
        self,
        workflow: str,
        body: calls.Body,
        *,
        timeout: float = 900.0,
        on_event: Optional[Callable[[m.JobEvent], Union[None, Awaitable[None]]]] = None,
        idempotency_key: Optional[str] = None,
        stream: bool = True,
    ) -> AsyncRunResult:
        """As ``Figur.run``; ``on_event`` may be a coroutine function."""
        accepted = await self.dispatch(workflow, body, idempotency_key=idempotency_key)
        f = Follow(accepted.job_id, 0, True, stream, 25, deadline=time.monotonic() + timeout)
        seen: list[m.JobEvent] = []
        async for event in self._follow(f):
            seen.append(event)
            if on_event is not None:
                said = on_event(event)
                if said is not None:
                    await said
        last = finished(accepted.job_id, seen)
        render = await self._render_if_filed(accepted.job_id)
        return AsyncRunResult(accepted.job_id, list(last.artifacts), render, dict(last.extra), seen, self)

    async def _render_if_filed(self, job_id: str) -> Optional[m.Render]:
        try:
            return await self.render(job_id)
        except FigurError as e:
            if e.status == 404:
                return None
            raise

    # -- every other operation -------------------------------------------------------------

    async def metrics(self) -> str:
        """`GET /metrics` (extension): the server's metrics in Prometheus' text format."""
        return await self._send(Call("GET", "/metrics", _text, raw=True))

    async def health(self) -> m.Health:
        """`GET /v1/health` (no key needed): whether the server is up."""
        return await self._send(calls.get("/v1/health", m.Health))

    async def openapi(self) -> dict[str, Any]:
        """`GET /v1/openapi.json`: the API's own description."""
        return await self._send(calls.Call("GET", "/v1/openapi.json", _as_dict))

    async def operations(self) -> m.OperationList:
        """`GET /v1/operations`: every workflow, its class, price and whether it runs here."""
        return await self._send(calls.get("/v1/operations", m.OperationList))

    async def generative_models(self) -> m.GenerativeView:
        """`GET /v1/generative-models` (extension): the added diffusion models and each use's default."""
        return await self._send(calls.get("/v1/generative-models", m.GenerativeView))

    async def set_default_model(self, use: str, model: Optional[str]) -> m.GenerativeView:
        """`PUT /v1/generative-models/defaults/{use}` (extension): the model a use takes when a
        request names none (``None`` clears it)."""
        path = f"/v1/generative-models/defaults/{_key(use)}"
        return await self._send(calls.Call("PUT", path, calls.model(m.GenerativeView), json={"model": model}))

    async def credits(self) -> m.Credits:
        """`GET /v1/credits`: the balance."""
        return await self._send(calls.get("/v1/credits", m.Credits))

    async def usage(self, limit: Optional[int] = None, offset: Optional[int] = None) -> m.UsageList:
        """`GET /v1/usage`: debits and refunds, newest first."""
        return await self._send(calls.get("/v1/usage", m.UsageList, limit=limit, offset=offset))

    async def garment_categories(self) -> list[m.GarmentCategory]:
        """`GET /v1/garment-categories`."""
        return await self._send(calls.Call("GET", "/v1/garment-categories", _list_of(m.GarmentCategory)))

    async def compatibility(self, body: calls.Body) -> m.CompatibilityResponse:
        """`POST /v1/compatibility/check`: which complementary garments go with a product."""
        return await self._send(calls.post("/v1/compatibility/check", m.CompatibilityResponse, calls.dump(body), repeatable=True))

    async def catalog(self, resource: str, status: Optional[str] = None, gender: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None) -> list[m.CatalogEntry]:
        """`GET /v1/catalog/{resource}`: `models`, `backgrounds` or `complementary-garments`."""
        return await self._send(calls.Call("GET", f"/v1/catalog/{_seg(resource)}", _list_of(m.CatalogEntry), params=_params(status=status, gender=gender, limit=limit, offset=offset)))

    async def catalog_models(self, status: Optional[str] = None, gender: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None) -> list[m.CatalogEntry]:
        """`GET /v1/catalog/models`."""
        return await self._send(calls.Call("GET", "/v1/catalog/models", _list_of(m.CatalogEntry), params=_params(status=status, gender=gender, limit=limit, offset=offset)))

    async def catalog_entry(self, resource: str, public_id: str) -> m.CatalogEntry:
        """`GET /v1/catalog/{resource}/{public_id}`."""
        return await self._send(calls.get(f"/v1/catalog/{_seg(resource)}/{_seg(public_id)}", m.CatalogEntry))

    async def add_catalog_model(self, body: calls.Body) -> m.CatalogEntry:
        """`POST /v1/catalog/models` (a studio extension): an uploaded photo of your own model."""
        return await self._send(calls.post("/v1/catalog/models", m.CatalogEntry, calls.dump(body)))

    async def jobs(self, limit: Optional[int] = None, offset: Optional[int] = None, status: Optional[str] = None, job_type: Optional[str] = None) -> m.JobList:
        """`GET /v1/jobs`, newest first."""
        return await self._send(calls.get("/v1/jobs", m.JobList, limit=limit, offset=offset, status=status, job_type=job_type))

    async def job(self, job_id: str) -> m.JobDetail:
        """`GET /v1/jobs/{job_id}`."""
        return await self._send(calls.get(f"/v1/jobs/{_seg(job_id)}", m.JobDetail))

    async def cancel(self, job_id: str) -> m.JobDetail:
        """`POST /v1/jobs/{job_id}/cancel`: the job ends `failed` with `JOB_CANCELLED`, refunded."""
        return await self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/cancel", m.JobDetail, repeatable=True))

    async def pause(self, job_id: str) -> m.JobDetail:
        """`POST /v1/jobs/{job_id}/pause` (extension): held until resumed."""
        return await self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/pause", m.JobDetail, repeatable=True))

    async def resume(self, job_id: str) -> m.JobDetail:
        """`POST /v1/jobs/{job_id}/resume` (extension)."""
        return await self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/resume", m.JobDetail, repeatable=True))

    async def priority(self, job_id: str, priority: int) -> m.JobDetail:
        """`POST /v1/jobs/{job_id}/priority` (extension): -100 to 100, higher runs first."""
        return await self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/priority", m.JobDetail, {"priority": priority}, repeatable=True))

    async def vary(self, job_id: str, count: int = 1) -> m.Variations:
        """`POST /v1/jobs/{job_id}/vary` (extension): the same request with new seeds."""
        return await self._send(calls.post(f"/v1/jobs/{_seg(job_id)}/vary", m.Variations, {"count": count}))

    async def webhooks(self, job_id: str) -> m.WebhookDeliveries:
        """`GET /v1/jobs/{job_id}/webhooks` (extension): the job's delivery attempts."""
        return await self._send(calls.get(f"/v1/jobs/{_seg(job_id)}/webhooks", m.WebhookDeliveries))

    async def queue(self, limit: Optional[int] = None, offset: Optional[int] = None) -> m.JobList:
        """`GET /v1/queue` (extension): waiting and running jobs in run order."""
        return await self._send(calls.get("/v1/queue", m.JobList, limit=limit, offset=offset))

    async def renders(self, origin: Optional[str] = None, category: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None) -> m.RenderList:
        """`GET /v1/renders`: the gallery, newest first."""
        return await self._send(calls.get("/v1/renders", m.RenderList, origin=origin, category=category, limit=limit, offset=offset))

    async def render(self, public_id: str) -> m.Render:
        """`GET /v1/renders/{public_id}` (a render's id is its job's)."""
        return await self._send(calls.get(f"/v1/renders/{_seg(public_id)}", m.Render))

    async def uploads(self, q: Optional[str] = None, tag: Optional[str] = None, favourite: Optional[bool] = None, folder: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None) -> m.UploadList:
        """`GET /v1/uploads` (extension): the library, newest first."""
        return await self._send(calls.get("/v1/uploads", m.UploadList, q=q, tag=tag, favourite=_flag(favourite), folder=folder, limit=limit, offset=offset))

    async def edit_upload(self, upload_key: str, tags: Optional[list[str]] = None, favourite: Optional[bool] = None) -> m.LibraryImage:
        """`PATCH /v1/uploads/{upload_key}` (extension): tags and the favourite mark."""
        return await self._send(calls.Call("PATCH", f"/v1/uploads/{_key(upload_key)}", calls.model(m.LibraryImage), json=_params(tags=tags, favourite=favourite)))

    async def tags(self) -> list[m.TagCount]:
        """`GET /v1/tags` (extension): every tag with its count."""
        return await self._send(calls.Call("GET", "/v1/tags", _list_of(m.TagCount)))

    async def try_on(
        self, body: Union[m.TryOnRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/try-on`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("try-on", body, idempotency_key=idempotency_key)

    async def extract(
        self, body: Union[m.ExtractRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/extract`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("extract", body, idempotency_key=idempotency_key)

    async def look(
        self, body: Union[m.LookRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/look`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("look", body, idempotency_key=idempotency_key)

    async def model_generator(
        self, body: Union[m.ModelGeneratorRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/model-generator`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("model-generator", body, idempotency_key=idempotency_key)

    async def background_generator(
        self, body: Union[m.BackgroundGeneratorRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/background-generator`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("background-generator", body, idempotency_key=idempotency_key)

    async def complementary_garment_generator(
        self, body: Union[m.ComplementaryGarmentGeneratorRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/complementary-garment-generator`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("complementary-garment-generator", body, idempotency_key=idempotency_key)

    async def product_to_model_direct(
        self, body: Union[m.ProductToModelRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/product-to-model-direct`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("product-to-model-direct", body, idempotency_key=idempotency_key)

    async def product_to_model_phased(
        self, body: Union[m.ProductToModelRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/product-to-model-phased`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("product-to-model-phased", body, idempotency_key=idempotency_key)

    async def background_swap_with_image(
        self, body: Union[m.BackgroundSwapWithImageRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/background-swap-with-image`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("background-swap-with-image", body, idempotency_key=idempotency_key)

    async def background_swap_with_spec(
        self, body: Union[m.BackgroundSwapWithSpecRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/background-swap-with-spec`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("background-swap-with-spec", body, idempotency_key=idempotency_key)

    async def model_swap_with_image(
        self, body: Union[m.ModelSwapWithImageRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/model-swap-with-image`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("model-swap-with-image", body, idempotency_key=idempotency_key)

    async def upscale(
        self, body: Union[m.UpscaleRequest, Mapping[str, Any]], *, idempotency_key: Optional[str] = None
    ) -> m.DispatchAccepted:
        """`POST /v1/upscale`: dispatches the job (see `run` to wait for it)."""
        return await self.dispatch("upscale", body, idempotency_key=idempotency_key)
