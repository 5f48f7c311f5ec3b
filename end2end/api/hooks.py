"""Schemathesis hooks for the API fuzz run (end2end/api/fuzz.py): the failure shape check."""

import json

import schemathesis


@schemathesis.check
def failures_use_the_failure_shape(ctx, response, case):
    """Every 4xx/5xx answer of an /api route is {"ok": false, "error": "<non-empty message>"}."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not content_type.startswith("application/json"):
        raise AssertionError(
            f"a {response.status_code} answer is {content_type or 'untyped'}, not application/json"
        )
    try:
        body = json.loads(response.content)
    except ValueError as err:
        raise AssertionError(f"a {response.status_code} answer is not JSON: {err}") from err
    if not isinstance(body, dict) or body.get("ok") is not False:
        raise AssertionError(f'a {response.status_code} answer lacks "ok": false: {body!r:.200}')
    error = body.get("error")
    if not isinstance(error, str) or not error.strip():
        raise AssertionError(f'a {response.status_code} answer has no "error" message: {body!r:.200}')
    if set(body) != {"ok", "error"}:
        raise AssertionError(f"a {response.status_code} answer has extra keys: {sorted(body)}")
    return None
