"""Schemathesis hooks for `tests/api/schemathesis.rs`.

`positive_data_acceptance` holds that every schema-valid request is accepted. A schema can say
how a request is shaped, never what exists in this studio (an upload key that is well-formed
but names nothing), what its rules make of a value (two garments that cannot be worn together,
a colour word it does not know, an age range under 18) or what an image's bytes hold. The server
names each such refusal with a `details[].type` from `figur_engine::error::BEYOND_THE_SCHEMA`
(the list below; a Rust test keeps the two equal). This check is Schemathesis' own, except that
a refusal whose every detail is of those kinds passes: every other refusal of a schema-valid
request still fails the run, so a rule the server enforces and the document does not state is
still found.
"""

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

BEYOND_THE_SCHEMA = {
    "reference_error",
    "unknown_upload",
    "unsuitable_model_photo",
    "incompatible",
    "unsupported",
    "vocabulary",
    "policy",
    "unsupported_image",
    "unreadable_image",
    "too_large",
    "idempotency_conflict",
}


def _beyond_the_schema(response):
    try:
        details = response.json()["error"]["details"]
    except Exception:
        return False
    return bool(details) and all(d.get("type") in BEYOND_THE_SCHEMA for d in details)


@schemathesis.check
def positive_data_acceptance_within_the_schema(ctx, response, case):
    if 400 <= response.status_code < 500 and _beyond_the_schema(response):
        return None
    return positive_data_acceptance(ctx, response, case)
