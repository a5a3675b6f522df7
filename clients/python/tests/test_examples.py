"""The examples run as written: the ten-line try-on against a real studio (through the
environment, as a user would), and the webhook receiver on a signed and a forged delivery."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from figur import webhooks

from .conftest import Studio, photo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_ten_line_try_on_runs_against_a_studio(studio: Studio, tmp_path: Path) -> None:
    env = {**os.environ, "FIGUR_BASE_URL": studio.base_url, "FIGUR_API_KEY": studio.key}
    args = [sys.executable, str(EXAMPLES / "try_on.py"), str(photo("astronaut.png")), str(photo("messi5.jpg")), str(tmp_path)]
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "succeeded" in run.stdout and list(tmp_path.glob("*-0-*.png")), run.stdout
    tree = ast.parse((EXAMPLES / "try_on.py").read_text())
    code = [s for s in tree.body[1:] if not isinstance(s, (ast.Import, ast.ImportFrom))]
    lines = sum((s.end_lineno or s.lineno) - s.lineno + 1 for s in code)
    assert lines <= 10, f"ten lines of code, the docstring and imports apart: {lines}"


def test_the_webhook_receiver_accepts_a_signed_delivery_and_refuses_a_forged_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    secret = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
    monkeypatch.setenv("FIGUR_WEBHOOK_SECRET", secret)
    sys.path.insert(0, str(EXAMPLES))
    try:
        import webhook_receiver
    finally:
        sys.path.remove(str(EXAMPLES))
    client = TestClient(webhook_receiver.app)
    body = json.dumps({"type": "job.succeeded", "timestamp": 0,
                       "data": {"public_id": "01JJOB", "result": [{"image_url": "http://x/a.png"}]}}).encode()
    stamp = int(time.time())
    headers = {"webhook-id": "01JJOB", "webhook-timestamp": str(stamp),
               "webhook-signature": webhooks.sign(body, "01JJOB", stamp, secret)}
    assert client.post("/hooks/figur", content=body, headers=headers).status_code == 204
    forged = body.replace(b"succeeded", b"failed")
    answer = client.post("/hooks/figur", content=forged, headers=headers)
    assert answer.status_code == 400 and "signature" in answer.json()["detail"]
