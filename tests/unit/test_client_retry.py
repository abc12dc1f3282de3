"""Retry policy: what is retried, how often, how long we wait (sleep patched to zero)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from heygen_streaming import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
    StreamingClient,
)
from heygen_streaming._http import retry as _retry

from .conftest import BASE, ok

GET = {"streaming.list"}
IDEMPOTENT = [
    ("stop_session", "streaming.stop", ("s",)),
    ("keep_alive", "streaming.keep_alive", ("s",)),
    ("interrupt", "streaming.interrupt", ("s",)),
    ("submit_ice", "streaming.ice", ("s", {"candidate": ""})),
    ("start_session", "streaming.start", ("s", "v=0")),
    ("list_sessions", "streaming.list", ()),
    ("create_token", "streaming.create_token", ()),
]
NON_IDEMPOTENT = [
    ("new_session", "streaming.new", ()),
    ("send_task", "streaming.task", ("s", "hello")),
]
ANY_DATA = ok({"session_id": "s", "task_id": "t", "token": "x", "sessions": []})


@pytest.mark.parametrize(("method", "endpoint", "args"), IDEMPOTENT)
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_idempotent_endpoints_retry_retryable_statuses(
    client: StreamingClient,
    api: respx.MockRouter,
    sleeps: list[float],
    method: str,
    endpoint: str,
    args: tuple[object, ...],
    status: int,
) -> None:
    route = api.route(method="GET" if endpoint in GET else "POST", path=f"/v1/{endpoint}").mock(
        side_effect=[
            httpx.Response(status),
            httpx.Response(status),
            httpx.Response(200, json=ANY_DATA),
        ]
    )
    await getattr(client, method)(*args)
    assert route.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_not_retried(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float], status: int
) -> None:
    route = api.post("/v1/streaming.stop").respond(status, json={"code": 1, "message": "no"})
    with pytest.raises(Exception):  # noqa: B017 - the class is covered elsewhere
        await client.stop_session("s")
    assert route.call_count == 1
    assert sleeps == []


async def test_retries_exhausted_raise_last_error(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post("/v1/streaming.stop").respond(503, json={"code": 1, "message": "down"})
    with pytest.raises(InternalServerError, match="down"):
        await client.stop_session("s")
    assert route.call_count == 3  # 1 + max_retries=2
    assert len(sleeps) == 2


@pytest.mark.parametrize(("method", "endpoint", "args"), NON_IDEMPOTENT)
@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_non_idempotent_never_retried_after_response(
    client: StreamingClient,
    api: respx.MockRouter,
    sleeps: list[float],
    method: str,
    endpoint: str,
    args: tuple[object, ...],
    status: int,
) -> None:
    route = api.post(f"/v1/{endpoint}").respond(status, headers={"retry-after": "0"})
    with pytest.raises(APIError) as info:
        await getattr(client, method)(*args)
    assert info.value.status == status
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize(("method", "endpoint", "args"), NON_IDEMPOTENT)
@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("r"), httpx.WriteTimeout("w"), httpx.ReadError("reset"),
            httpx.RemoteProtocolError("eof")]
)  # fmt: skip
async def test_non_idempotent_never_retried_after_send_failure(
    client: StreamingClient,
    api: respx.MockRouter,
    sleeps: list[float],
    method: str,
    endpoint: str,
    args: tuple[object, ...],
    exc: Exception,
) -> None:
    route = api.post(f"/v1/{endpoint}").mock(side_effect=exc)
    expected = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    with pytest.raises(expected):
        await getattr(client, method)(*args)
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize(("method", "endpoint", "args"), NON_IDEMPOTENT + IDEMPOTENT)
@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_never_sent_failures_are_retried_everywhere(
    client: StreamingClient,
    api: respx.MockRouter,
    sleeps: list[float],
    method: str,
    endpoint: str,
    args: tuple[object, ...],
    exc_type: type[httpx.TransportError],
) -> None:
    route = api.route(method="GET" if endpoint in GET else "POST", path=f"/v1/{endpoint}").mock(
        side_effect=[exc_type("no route"), exc_type("no route"), httpx.Response(200, json=ANY_DATA)]
    )  # fmt: skip
    await getattr(client, method)(*args)
    assert route.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("exc_type", "expected"),
    [
        (httpx.ConnectError, APIConnectionError),
        (httpx.ConnectTimeout, APITimeoutError),
        (httpx.PoolTimeout, APITimeoutError),
    ],
)
async def test_connect_failures_exhausted(
    client: StreamingClient,
    api: respx.MockRouter,
    sleeps: list[float],
    exc_type: type[httpx.TransportError],
    expected: type[Exception],
) -> None:
    route = api.post("/v1/streaming.new").mock(side_effect=exc_type("refused"))
    with pytest.raises(expected) as info:
        await client.new_session()
    assert type(info.value) is expected
    assert isinstance(info.value.__cause__, exc_type)
    assert route.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "exc_type", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError]
)
async def test_idempotent_calls_retry_after_the_request_may_have_left(
    client: StreamingClient,
    api: respx.MockRouter,
    sleeps: list[float],
    exc_type: type[httpx.TransportError],
) -> None:
    """Idempotent calls also retry read timeouts and lost connections."""
    route = api.post("/v1/streaming.stop").mock(
        side_effect=[exc_type("slow"), exc_type("slow"), httpx.Response(200, json=ok(None))]
    )
    await client.stop_session("s")
    assert route.call_count == 3
    assert len(sleeps) == 2


async def test_idempotent_read_timeouts_exhausted(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post("/v1/streaming.stop").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError) as info:
        await client.stop_session("s")
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert route.call_count == 3


async def test_max_retries_zero_disables(api: respx.MockRouter, sleeps: list[float]) -> None:
    stop = api.post("/v1/streaming.stop").respond(503)
    new = api.post("/v1/streaming.new").mock(side_effect=httpx.ConnectError("refused"))
    async with StreamingClient(api_key="k", base_url=BASE, max_retries=0) as c:
        with pytest.raises(InternalServerError):
            await c.stop_session("s")
        with pytest.raises(APIConnectionError):
            await c.new_session()
    assert stop.call_count == 1
    assert new.call_count == 1
    assert sleeps == []


async def test_max_retries_custom_count(api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.post("/v1/streaming.keep_alive").respond(500)
    async with StreamingClient(api_key="k", base_url=BASE, max_retries=5) as c:
        with pytest.raises(InternalServerError):
            await c.keep_alive("s")
    assert route.call_count == 6
    assert len(sleeps) == 5


async def test_retry_after_seconds_honoured(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    api.post("/v1/streaming.keep_alive").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "3"}),
            httpx.Response(503, headers={"Retry-After": "1.5"}),
            httpx.Response(200, json=ok(None)),
        ]
    )
    await client.keep_alive("s")
    assert sleeps == [3.0, 1.5]


async def test_retry_after_http_date_honoured(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=7)
    api.post("/v1/streaming.keep_alive").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": format_datetime(when, usegmt=True)}),
            httpx.Response(200, json=ok(None)),
        ]
    )
    await client.keep_alive("s")
    assert len(sleeps) == 1
    assert 4.0 <= sleeps[0] <= 7.0  # whole-second date resolution


async def test_retry_after_beyond_cap_raises_instead_of_waiting(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post("/v1/streaming.keep_alive").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "3600"}),
            httpx.Response(200, json=ok(None)),
        ]
    )
    with pytest.raises(RateLimitError) as info:
        await client.keep_alive("s")
    assert info.value.retry_after == 3600.0
    assert route.call_count == 1
    assert sleeps == []


async def test_retry_after_at_cap_is_waited(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    api.post("/v1/streaming.keep_alive").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": str(_retry.MAX_DELAY)}),
            httpx.Response(200, json=ok(None)),
        ]
    )
    await client.keep_alive("s")
    assert sleeps == [_retry.MAX_DELAY]


async def test_retry_after_past_the_deadline_raises_at_once(
    api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post("/v1/streaming.keep_alive").respond(429, headers={"retry-after": "5"})
    async with StreamingClient(api_key="k", base_url=BASE, timeout=2.0) as c:
        with pytest.raises(RateLimitError) as info:
            await c.keep_alive("s")
    assert info.value.retry_after == 5.0
    assert route.call_count == 1
    assert sleeps == []


async def test_backoff_without_retry_after_grows(
    api: respx.MockRouter, sleeps: list[float]
) -> None:
    api.post("/v1/streaming.keep_alive").respond(502)
    async with StreamingClient(api_key="k", base_url=BASE, max_retries=6) as c:
        with pytest.raises(InternalServerError):
            await c.keep_alive("s")
    expected_caps = [min(_retry.BASE_DELAY * 2**i, _retry.MAX_BACKOFF) for i in range(6)]
    assert len(sleeps) == 6
    for delay, cap in zip(sleeps, expected_caps, strict=True):
        assert cap / 2 <= delay <= cap


async def test_rate_limit_error_after_retries(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    api.get("/v1/streaming.list").respond(429, json={"code": 400123, "message": "slow"})
    with pytest.raises(RateLimitError):
        await client.list_sessions()
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 -0000", 10.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()
    assert _retry.parse_retry_after(value, now=now) == expected


def test_backoff_delay_bounds() -> None:
    for retry in range(10):
        cap = min(_retry.BASE_DELAY * 2**retry, _retry.MAX_BACKOFF)
        for _ in range(20):
            assert cap / 2 <= _retry.backoff_delay(retry) <= cap
    assert _retry.backoff_delay(3, retry_after=1.25) == 1.25
    assert _retry.backoff_delay(0, retry_after=999) == _retry.MAX_DELAY


# -- a retry whose earlier attempt may have landed ----------------------------------------

ALREADY_STARTED = [
    {"code": 400, "message": "Session already started"},
    {"code": 10002, "message": "session state wrong: connecting"},
    {"code": 10003, "message": "session state wrong: connected"},
]
ALREADY_STOPPED = [
    (404, {"code": 10006, "message": "Session not found"}),
    (400, {"code": 10006, "message": "Session not found"}),
    (400, {"code": 10005, "message": "session state wrong: closed"}),
    (400, {"code": 10004, "message": "Session state wrong: closing"}),
]
LANDED = [httpx.Response(502), httpx.Response(504), httpx.ReadTimeout("lost")]


@pytest.mark.parametrize("first", LANDED)
@pytest.mark.parametrize("refusal", ALREADY_STARTED)
async def test_retried_start_already_started_is_success(
    client: StreamingClient, api: respx.MockRouter, first: object, refusal: dict[str, object]
) -> None:
    route = api.post("/v1/streaming.start").mock(
        side_effect=[first, httpx.Response(400, json=refusal)]
    )
    assert await client.start_session("s", "v=0") is None
    assert route.call_count == 2


@pytest.mark.parametrize("first", LANDED)
@pytest.mark.parametrize(("status", "refusal"), ALREADY_STOPPED)
async def test_retried_stop_already_gone_is_success(
    client: StreamingClient,
    api: respx.MockRouter,
    first: object,
    status: int,
    refusal: dict[str, object],
) -> None:
    route = api.post("/v1/streaming.stop").mock(
        side_effect=[first, httpx.Response(status, json=refusal)]
    )
    assert await client.stop_session("s") is None
    assert route.call_count == 2


@pytest.mark.parametrize("refusal", ALREADY_STARTED)
async def test_first_attempt_already_started_still_raises(
    client: StreamingClient, api: respx.MockRouter, refusal: dict[str, object]
) -> None:
    api.post("/v1/streaming.start").respond(400, json=refusal)
    with pytest.raises(APIError):
        await client.start_session("s", "v=0")


@pytest.mark.parametrize(("status", "refusal"), ALREADY_STOPPED)
@pytest.mark.parametrize(
    "first", [None, httpx.ConnectError("refused"), httpx.Response(429)], ids=["none", "c", "429"]
)
async def test_stop_refusal_raises_unless_an_earlier_attempt_may_have_landed(
    client: StreamingClient,
    api: respx.MockRouter,
    status: int,
    refusal: dict[str, object],
    first: object,
) -> None:
    """A first attempt that surely never reached the server proves nothing."""
    answers = [httpx.Response(status, json=refusal)]
    api.post("/v1/streaming.stop").mock(side_effect=answers if first is None else [first, *answers])
    with pytest.raises(APIError):
        await client.stop_session("s")


async def test_other_errors_after_a_landed_attempt_still_raise(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    invalid = {"code": 400006, "message": "Invalid params"}
    api.post("/v1/streaming.start").mock(
        side_effect=[httpx.Response(502), httpx.Response(400, json=invalid)]
    )
    with pytest.raises(APIError, match="Invalid params"):
        await client.start_session("s", "v=0")
