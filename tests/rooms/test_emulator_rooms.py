"""The emulator serves the room server on its own port (``Emulator.rooms``)."""

from __future__ import annotations

import httpx
import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.livekit import RoomServer

pytestmark = pytest.mark.timeout(30)


async def test_the_emulator_serves_rooms_and_closes_them() -> None:
    async with Emulator(api_key="k", port=0) as emu:
        assert isinstance(emu.rooms, RoomServer)
        room = emu.rooms.create_room("demo")
        token = emu.rooms.token(room="demo", identity="user")
        async with httpx.AsyncClient(base_url=emu.base_url) as http:
            refused = await http.get("/rtc/validate")
            valid = await http.get("/rtc/validate", params={"access_token": token})
            preflight = await http.options("/rtc/v1/validate")
            plain = await http.get("/rtc", params={"access_token": token})
        assert (refused.status_code, refused.text) == (401, "permissions denied")
        assert (valid.status_code, valid.text) == (200, "success")
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
        assert plain.status_code == 404  # not a WebSocket upgrade
    assert room.closed and emu.rooms.rooms == {}
