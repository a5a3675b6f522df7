"""Verifying the webhooks a Figur API sends (the Standard Webhooks scheme,
https://www.standardwebhooks.com): ``webhook-signature`` is ``v1,`` + base64 of HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}`` with the secret (``whsec_…``, from
``figur webhooks secret``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, Optional, Union

from .errors import FigurError

#: How far a delivery's timestamp may be from now (replays older than this are refused).
TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(FigurError):
    def __init__(self, message: str) -> None:
        super().__init__("WEBHOOK_UNVERIFIED", message)


def _secret_bytes(secret: Union[str, bytes]) -> bytes:
    if isinstance(secret, bytes):
        return secret
    text = secret.strip()
    if text.startswith("whsec_"):
        text = text[len("whsec_") :]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise WebhookVerificationError("the secret is not a whsec_… value (base64 after the prefix)") from e


def sign(body: Union[bytes, str], msg_id: str, timestamp: int, secret: Union[str, bytes]) -> str:
    """The ``webhook-signature`` value the studio would send (``v1,<base64>``)."""
    data = body.encode() if isinstance(body, str) else body
    mac = hmac.new(_secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + data, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(
    body: Union[bytes, str],
    headers: Mapping[str, str],
    secret: Union[str, bytes],
    *,
    now: Optional[float] = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """The delivery's JSON (``{"type", "timestamp", "data"}``) if its signature is the
    secret's and its timestamp recent; else ``WebhookVerificationError`` saying why. Pass the
    body exactly as received (bytes), not re-serialised."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = lower.get("webhook-id"), lower.get("webhook-timestamp"), lower.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as e:
        raise WebhookVerificationError(f"webhook-timestamp `{stamp}` is not Unix seconds") from e
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise WebhookVerificationError(f"webhook-timestamp {timestamp} is more than {tolerance} s from now")
    expected = sign(body, msg_id, timestamp, secret)
    if not any(hmac.compare_digest(expected, given) for given in signatures.split()):
        raise WebhookVerificationError("no signature matches the secret (is it this studio's, and the raw body?)")
    data = body.encode() if isinstance(body, str) else body
    payload = json.loads(data)
    if not isinstance(payload, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return payload
