"""Fuzz the SDK's response handling: any body, status or shape -> only our typed errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heygen_streaming import HeyGenError, StreamingClient
from heygen_streaming._v1.models import NewSessionInfo, SessionSummary, TaskInfo

KEY = "fuzz-secret-key-123"

Call = Callable[[StreamingClient], Awaitable[Any]]
CALLS: dict[str, Call] = {
    "new": lambda c: c.new_session(avatar="a", voice="v", quality="low"),
    "start": lambda c: c.start_session("sid", "v=0\r\n"),
    "ice": lambda c: c.submit_ice("sid", {"candidate": "", "sdpMid": "0"}),
    "task": lambda c: c.send_task("sid", "hello"),
    "interrupt": lambda c: c.interrupt("sid"),
    "keep_alive": lambda c: c.keep_alive("sid"),
    "stop": lambda c: c.stop_session("sid"),
    "list": lambda c: c.list_sessions(),
    "token": lambda c: c.create_token(),
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Keys the parsers actually look at, so the fuzzer reaches the interesting branches.
known_keys = st.sampled_from(
    [
        "code", "message", "data", "error", "session_id", "sdp", "type", "ice_servers",
        "ice_servers2", "urls", "username", "credential", "task_id", "duration_ms", "sessions",
        "token", "status", "created_at", "is_paid", "session_duration_limit", "access_token",
    ]
)  # fmt: skip
shaped = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(known_keys, inner, max_size=5),
    max_leaves=16,
)
envelopes = st.fixed_dictionaries(
    {"code": st.one_of(st.just(100), st.just("100"), scalars), "data": shaped},
    optional={"message": scalars, "error": shaped},
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    shaped.map(lambda v: json.dumps(v).encode()),
    envelopes.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"<html>502 Bad Gateway</html>", b"{", b"null", b"[]", b"NaN"]),
)
statuses = st.sampled_from(
    [200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 408, 422, 429, 500, 502, 503]
)
content_types = st.sampled_from(["application/json", "text/html", "text/plain", ""])


async def _call(name: str, status: int, body: bytes, ctype: str) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": ctype} if ctype else {}
        return httpx.Response(status, content=body, headers=headers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = StreamingClient(
            api_key=KEY, base_url="http://fuzz.invalid", max_retries=0, http_client=http
        )
        async with client:
            return await CALLS[name](client)


FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@pytest.mark.parametrize("name", sorted(CALLS))
@FUZZ
@given(status=statuses, body=bodies, ctype=content_types)
def test_random_responses_raise_only_typed_errors(
    name: str, status: int, body: bytes, ctype: str
) -> None:
    try:
        result = asyncio.run(_call(name, status, body, ctype))
    except HeyGenError as exc:
        assert KEY not in str(exc) and KEY not in repr(exc)
        return
    # Success is only acceptable as a 2xx with the documented result type.
    assert 200 <= status < 300
    expected: dict[str, Any] = {
        "new": NewSessionInfo,
        "task": TaskInfo,
        "token": str,
        "list": list,
    }
    if name in expected:
        assert isinstance(result, expected[name])
        if name == "list":
            assert all(isinstance(s, SessionSummary) for s in result)
    else:
        assert result is None
