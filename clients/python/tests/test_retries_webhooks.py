"""A storm of 429s retried after Retry-After without charging twice (the balance says so), a
repeated dispatch answered with its first job, and a webhook received and verified."""

from __future__ import annotations

import http.server
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from figur import Figur, webhooks

from .conftest import Studio


def backdrop(n: int) -> dict[str, object]:
    return {"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": n}


def test_a_429_storm_is_retried_without_double_charges() -> None:
    # One request a second (bursts of two), jobs queued but not run: every dispatch must get
    # through by waiting out Retry-After, and each be charged exactly once.
    studio = Studio("--rate-limit", "1", "--paused")
    try:
        statuses: list[int] = []
        hooks = {"response": [lambda r: statuses.append(r.status_code)]}
        with Figur(studio.base_url, studio.key, max_retries=30, http_client=httpx.Client(event_hooks=hooks)) as figur:
            before = figur.credits().balance
            with ThreadPoolExecutor(max_workers=4) as pool:
                accepted = list(pool.map(lambda n: figur.dispatch("background-generator", backdrop(n)), range(8)))
            assert statuses.count(429) >= 4, f"the limit was hit: {statuses}"
            assert len({a.job_id for a in accepted}) == 8
            assert figur.credits().balance == before - sum(a.credits_cost for a in accepted)
            assert figur.jobs(limit=50).count == 8, "no job twice"
    finally:
        studio.stop()


def test_a_repeated_dispatch_is_answered_with_its_first_job(figur: Figur) -> None:
    before = figur.credits().balance
    first = figur.dispatch("background-generator", backdrop(7), idempotency_key="retry-me-1")
    again = figur.dispatch("background-generator", backdrop(7), idempotency_key="retry-me-1")
    assert first.job_id == again.job_id
    assert figur.credits().balance == before - first.credits_cost


def test_a_webhook_is_received_and_verified(studio: Studio, figur: Figur) -> None:
    received: "queue.Queue[tuple[bytes, dict[str, str]]]" = queue.Queue()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.put((body, dict(self.headers.items())))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks/figur"
        done = figur.run("background-generator", {**backdrop(9), "webhook_url": url})
        body, headers = received.get(timeout=60)
        secret = studio.cli("keys", "webhook-secret")
        assert secret.startswith("whsec_")
        payload = webhooks.verify(body, headers, secret)
        assert payload["type"] == "job.succeeded" and payload["data"]["public_id"] == done.job_id

        with pytest.raises(webhooks.WebhookVerificationError):
            webhooks.verify(body.replace(b"succeeded", b"failed"), headers, secret)
        with pytest.raises(webhooks.WebhookVerificationError):
            webhooks.verify(body, headers, "whsec_" + "A" * 44)
        with pytest.raises(webhooks.WebhookVerificationError):
            webhooks.verify(body, headers, secret, now=time.time() + 3600)
        with pytest.raises(webhooks.WebhookVerificationError):
            webhooks.verify(body, {k: v for k, v in headers.items() if k.lower() != "webhook-signature"}, secret)
    finally:
        server.shutdown()
