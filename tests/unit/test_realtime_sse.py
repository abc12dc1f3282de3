"""The incremental SSE parser: WHATWG line and field rules, whatever the chunking."""

from __future__ import annotations

import pytest

from heygen_streaming._http.sse import SSEError, SSEEvent, SSEParser

SAMPLE = (
    "\ufeff: a comment, then a keep-alive\r\n\r\n"
    'data: {"words":[{"word":"Hé","start":0.0,"end":0.2}]}\r\n\r\n'
    "data: line one\ndata: line two\n\n"
    "event: progress\rdata:no-space\r\r"
    "id: 7\nretry: 1500\ndata\n\n"
    "event: end\r\ndata: {}\r\n\r\n"
).encode()

EXPECTED = [
    SSEEvent(data='{"words":[{"word":"Hé","start":0.0,"end":0.2}]}'),
    SSEEvent(data="line one\nline two"),
    SSEEvent(event="progress", data="no-space"),
    SSEEvent(data="", id="7", retry=1500),
    SSEEvent(event="end", data="{}", id="7", retry=1500),
]


def feed_all(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


def test_whole_stream() -> None:
    assert feed_all([SAMPLE]) == EXPECTED


def test_byte_by_byte() -> None:
    # splits every CRLF, every multi-byte UTF-8 character and the BOM
    assert feed_all([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]) == EXPECTED


def test_any_two_chunks() -> None:
    for cut in range(1, len(SAMPLE)):
        assert feed_all([SAMPLE[:cut], SAMPLE[cut:]]) == EXPECTED, cut


def test_cr_then_lf_in_next_chunk_is_one_line_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: x\r") == []
    # the LF completes the CRLF of the data line; only the next CRLF ends the event
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\r\n") == [SSEEvent(data="x")]


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert feed_all([b"data:  two spaces\n\n"]) == [SSEEvent(data=" two spaces")]


def test_unterminated_event_at_end_of_stream_is_discarded() -> None:
    assert feed_all([b"data: complete\n\ndata: cut off\n"]) == [SSEEvent(data="complete")]


def test_event_without_data_is_not_dispatched() -> None:
    assert feed_all([b"event: end\n\n: only a comment\n\n"]) == []


def test_unknown_fields_and_bad_retry_are_ignored() -> None:
    parser = SSEParser()
    events = parser.feed(b"foo: bar\nretry: soon\nid: a\x00b\ndata: x\n\n")
    assert events == [SSEEvent(data="x")]
    assert parser.retry is None and parser.last_event_id is None


def test_endless_line_raises() -> None:
    parser = SSEParser(max_line=64)
    with pytest.raises(SSEError):
        parser.feed(b"data: " + b"x" * 100)


def test_endless_event_of_short_lines_raises() -> None:
    parser = SSEParser(max_line=64)
    assert parser.feed(b"data: x\n" * 32) == []  # 32 lines of "x" + newline: 64, the bound
    with pytest.raises(SSEError):
        parser.feed(b"data: x\n")


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert feed_all([b"data: \xff\n\n"]) == [SSEEvent(data="\ufffd")]
