"""The API key and tokens never appear in logs (DEBUG, every logger), errors or reprs."""

from __future__ import annotations

import logging

import pytest

from heygen_streaming import HeyGenError, StreamingClient
from heygen_streaming.emulator.process import EmulatorProcess

from ._leaks import API_KEY


@pytest.mark.timeout(90)
async def test_whole_session_at_debug_leaks_no_secret(
    emulator_process: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base = emulator_process.base_url
    texts: list[str] = []
    secrets = [API_KEY]
    async with StreamingClient(api_key=API_KEY, base_url=base) as client:
        texts.append(repr(client))
        token = await client.create_token()
        secrets.append(token)
        async with StreamingClient(token=token, base_url=base) as tclient:
            texts.append(repr(tclient))
            async with tclient.session(quality="low") as s:
                texts += [repr(s), repr(s.info), str(s.info)]
                if s.info.access_token:
                    secrets.append(s.info.access_token)
                await s.speak("Nothing secret here.")
                async for _ in s.video():
                    break
                texts.append(repr(await s.stats()))
        # Errors: a wrong key, a reused single-use token, an unknown session.
        wrong = API_KEY[::-1]
        secrets.append(wrong)
        async with StreamingClient(api_key=wrong, base_url=base, max_retries=0) as bad:
            with pytest.raises(HeyGenError) as auth_err:
                await bad.list_sessions()
            texts += [str(auth_err.value), repr(auth_err.value)]
        async with StreamingClient(token=token, base_url=base, max_retries=0) as reused:
            try:
                await reused.list_sessions()
            except HeyGenError as exc:
                texts += [str(exc), repr(exc)]
        with pytest.raises(HeyGenError) as nf:
            await client.stop_session("no-such-session")
        texts += [str(nf.value), repr(nf.value)]
    logs = caplog.text
    assert "POST" in logs or "streaming." in logs, "expected DEBUG request lines"
    for secret in secrets:
        assert secret not in logs
        for text in texts:
            assert secret not in text
