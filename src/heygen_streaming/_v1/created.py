"""What ``streaming.new`` created, read without pydantic (the connect path of a fresh process).

`CreatedSession.parse` reads a ``streaming.new`` answer by hand when every field
`NewSessionInfo` declares has the plain JSON type the model keeps as is; anything else goes
through the model, so the same data is accepted and the same `ResponseValidationError` is
raised either way. The `NewSessionInfo` model (``Session.info``) is built on first use.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import NewSessionInfo

__all__ = ["CreatedSession", "ice_server_list", "is_ice_server"]

logger = logging.getLogger("heygen_streaming")

_OPTIONAL_STR = ("access_token", "url", "realtime_endpoint")


def is_ice_server(item: Any) -> bool:
    """A dict with ``urls`` (a URL or a non-empty list) and optional string credentials."""
    if not isinstance(item, dict):
        return False
    urls = item.get("urls")
    urls_ok = isinstance(urls, str) or (
        isinstance(urls, list) and bool(urls) and all(isinstance(u, str) for u in urls)
    )
    return urls_ok and all(
        isinstance(item.get(key), str | None) for key in ("username", "credential")
    )


def ice_server_list(value: Any) -> Any:
    """Lenient ICE server lists: one bad entry must not fail the whole session.

    Captured 2024 bodies list bare URL strings; a lone string or object counts as a list of
    one; entries that are no ICE server are dropped with a warning naming them.
    """
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    servers = []
    for item in items:
        entry = {"urls": item} if isinstance(item, str) else item
        if is_ice_server(entry):
            servers.append(entry)
        elif item is not None:
            logger.warning("skipping an ICE server entry that is not one: %.200r", item)
    return servers


def _plain(data: Any) -> bool:
    """Every declared field of `NewSessionInfo` absent, null or of the exact type it keeps."""
    if type(data) is not dict or type(data.get("session_id")) is not str:
        return False
    sdp = data.get("sdp")
    if sdp is not None and not (
        type(sdp) is dict and type(sdp.get("type")) is str and type(sdp.get("sdp")) is str
    ):
        return False
    if any(data.get(key) is not None and type(data[key]) is not str for key in _OPTIONAL_STR):
        return False
    paid, limit = data.get("is_paid"), data.get("session_duration_limit")
    return (paid is None or type(paid) is bool) and (limit is None or type(limit) is int)


class CreatedSession:
    """The connect path's view of a ``streaming.new`` answer.

    Attributes:
        session_id: the session's id.
        offer: the SDP offer's text (``None``: a v2/LiveKit session without one).
        offer_type: the offer's ``type`` (``"offer"``).
        ice_servers: ``ice_servers`` as dicts (``urls``, ``username``, ``credential``).
        ice_servers2: ``ice_servers2`` likewise.
    """

    __slots__ = ("_data", "_model", "ice_servers", "ice_servers2", "offer", "offer_type")

    def __init__(self, data: dict[str, Any], model: NewSessionInfo | None = None) -> None:
        self._data = data
        self._model = model
        sdp = data.get("sdp")
        self.offer: str | None = sdp["sdp"] if sdp else None
        self.offer_type: str = (sdp["type"] if sdp else None) or "offer"
        self.ice_servers: list[dict[str, Any]] | None = data.get("ice_servers")
        self.ice_servers2: list[dict[str, Any]] | None = data.get("ice_servers2")

    @property
    def session_id(self) -> str:
        """The session's id."""
        return str(self._data["session_id"])

    @classmethod
    def parse(cls, data: Any, endpoint: str = "streaming.new") -> CreatedSession:
        """Read ``data``; what is not plain JSON of the declared types goes through the model."""
        if _plain(data):
            return cls(
                {
                    **data,
                    "ice_servers": ice_server_list(data.get("ice_servers")),
                    "ice_servers2": ice_server_list(data.get("ice_servers2")),
                }
            )
        from .._http.decode import parse
        from .models import NewSessionInfo

        return cls.from_model(parse(NewSessionInfo, data, endpoint))

    @classmethod
    def from_model(cls, model: NewSessionInfo) -> CreatedSession:
        """The view of an existing `NewSessionInfo` (which `model` then returns)."""
        data = model.model_dump(include={"session_id", "sdp", "ice_servers", "ice_servers2"})
        return cls(data, model)

    def model(self) -> NewSessionInfo:
        """The `NewSessionInfo` of this answer (built, and pydantic loaded, on first call)."""
        if self._model is None:
            from .._http.decode import parse
            from .models import NewSessionInfo

            self._model = parse(NewSessionInfo, self._data, "streaming.new")
        return self._model

    def __repr__(self) -> str:
        return f"CreatedSession(session_id={self.session_id!r})"
