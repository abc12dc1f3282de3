"""Test your own code against the offline emulator.

`EmulatorServer` runs an `heygen_streaming.emulator.Emulator` in its own thread and event
loop, so it serves whatever event loop (or none) the test uses. The pytest plugin
(`heygen_streaming.testing.plugin`, registered under the ``pytest11`` entry point) gives it to
tests as the ``heygen_emulator`` fixture::

    async def test_greeting(heygen_emulator):
        async with heygen_emulator.client() as client, client.session(quality="low") as s:
            await s.speak("Hello", wait=True)

Needs the ``emulator`` extra: ``pip install 'heygen-streaming[emulator]'``.
"""

from __future__ import annotations

from ._server import EmulatorServer, RemoteFaults

__all__ = ["EmulatorServer", "RemoteFaults"]
