"""What ``streaming.new`` created, read without pydantic (the connect path of a fresh process).

`CreatedSession.parse` reads a ``streaming.new`` answer by hand when every field of the
wire table (`NEW_SESSION_INFO`, which `NewSessionInfo` declares too) has the plain JSON type
the model keeps as is; anything else goes through the model, so the same data is accepted
and the same `ResponseValidationError` is raised either way. The `NewSessionInfo` model
(``Session.info``) is built on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .wire import NEW_SESSION_INFO, ice_server_list

if TYPE_CHECKING:
    from .models import NewSessionInfo

__all__ = ["CreatedSession"]

_PLAIN_TYPES: dict[str, type] = {"str": str, "bool": bool, "int": int}


def _plain(data: Any) -> bool:
    """Every field of `NEW_SESSION_INFO` absent, null or of the exact type the model keeps."""
    if type(data) is not dict:
        return False
    for key, kind in NEW_SESSION_INFO.items():
        value = data.get(key)
        if kind == "str":
            if type(value) is not str:
                return False
        elif kind == "sdp":
            if value is not None and not (
                type(value) is dict
                and type(value.get("type")) is str
                and type(value.get("sdp")) is str
            ):
                return False
        elif (
            kind.endswith("?") and value is not None and type(value) is not _PLAIN_TYPES[kind[:-1]]
        ):
            return False
    return True


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
