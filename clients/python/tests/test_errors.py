"""Errors as exceptions: the envelope's code, the field at fault and the request id; a wrong
base URL, a bad key, an address that is no Figur API and a server that goes away mid-run each
end in a clear exception, never a hang."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from figur import Figur, FigurError

from .conftest import Studio
from .test_workflows import crop_png


def test_a_bad_body_names_its_field(figur: Figur) -> None:
    with pytest.raises(FigurError) as e:
        figur.try_on({"user_image": "uploads/none/x.png", "items": [{"trial_image": 7, "trial_item_category": "top"}]})
    assert e.value.status == 422 and e.value.code == "VALIDATION_ERROR"
    assert e.value.field == "items.0.trial_image" and e.value.request_id
    with pytest.raises(FigurError) as e:
        figur.dispatch("extract", {"trial_image": "uploads/01J00000000000000000000000/missing.png"})
    assert (e.value.code, e.value.field) == ("VALIDATION_ERROR", "trial_image")
    with pytest.raises(FigurError) as e:
        figur.dispatch("no-such-workflow", {})
    assert e.value.code == "BAD_INPUT" and "try-on" in e.value.message
    with pytest.raises(FigurError) as e:
        figur.job("01JJOBJOBJOBJOBJOBJOBJOB00")
    assert (e.value.status, e.value.code) == (404, "JOB_NOT_FOUND")


def test_a_bad_key_is_unauthorized(studio: Studio) -> None:
    with Figur(studio.base_url, "sk_live_wrong") as figur, pytest.raises(FigurError) as e:
        figur.credits()
    assert (e.value.status, e.value.code) == (401, "UNAUTHORIZED")
    with pytest.raises(FigurError) as none:
        Figur(studio.base_url, "")
    assert none.value.code == "UNAUTHORIZED"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_wrong_base_url_fails_fast_and_says_where() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with Figur(url, "sk_live_x", max_retries=1) as figur, pytest.raises(FigurError) as e:
        figur.credits()
    assert e.value.code == "CONNECTION_ERROR" and url in e.value.message
    assert time.monotonic() - started < 10
    with pytest.raises(FigurError) as scheme:
        Figur("ftp://example.com", "sk_live_x")
    assert scheme.value.code == "BAD_INPUT"


@pytest.fixture()
def not_figur() -> Iterator[str]:
    """A web server that is not a Figur API (it answers every path with an HTML page)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_address_that_is_no_figur_api_is_said(not_figur: str) -> None:
    with Figur(not_figur, "sk_live_x") as figur, pytest.raises(FigurError) as e:
        figur.credits()
    assert e.value.code == "NOT_FIGUR" and "other than JSON" in e.value.message


def test_a_server_that_goes_away_mid_run_ends_the_run_with_a_clear_error() -> None:
    studio = Studio()
    try:
        figur = studio.client(max_retries=2)
        # A 400×300 picture ×4: 12 tiles, far longer than the time to kill the server.
        key = figur.upload(crop_png((400, 300))).upload_key
        errors: list[BaseException] = []

        def run() -> None:
            try:
                figur.run("upscale", {"source_image_s3_key": key}, timeout=120)
            except BaseException as e:  # noqa: BLE001 - the test looks at what was raised
                errors.append(e)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(2.0)
        studio.stop()
        thread.join(timeout=60)
        assert not thread.is_alive(), "run() hung after the server went away"
        assert errors and isinstance(errors[0], FigurError), errors
        assert errors[0].code == "CONNECTION_ERROR" and studio.base_url in errors[0].message
    finally:
        studio.stop()
