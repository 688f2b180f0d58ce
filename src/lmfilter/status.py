"""The logged-model status enum, shared by the language and the API's record shapes.

>>> ModelStatus.from_name("READY") is ModelStatus.from_name("LOGGED_MODEL_READY") is ModelStatus.READY
True
>>> ModelStatus.FAILED.name, ModelStatus.FAILED.wire_name, ModelStatus.FAILED.number
('FAILED', 'LOGGED_MODEL_UPLOAD_FAILED', 3)

A status a newer server sends that lmfilter does not know yet is kept as it came, as an *unknown* status
(not a member: iterating the enum gives the four known ones). It equals only the same raw value, so a
filter on status matches it with no status name (``status = 'READY'`` and ``status IN (...)`` are false,
``status != 'READY'`` is true), it is written back as it came, and it sorts after every known status (a
protobuf enum grows at its end):

>>> archived = ModelStatus.unknown("LOGGED_MODEL_ARCHIVED")
>>> archived, archived.known, archived == ModelStatus.unknown(archived.raw), archived in ModelStatus
(<ModelStatus.LOGGED_MODEL_ARCHIVED: 'LOGGED_MODEL_ARCHIVED'>, False, True, False)
>>> ModelStatus.unknown(7).raw, ModelStatus.unknown(7).number
(7, 7)
"""

from __future__ import annotations

import enum
from typing import Any

UNKNOWN_NAME_NUMBER = 2**31 - 1
"""Where an unknown status given by name sorts: after every known one (the largest protobuf enum number)."""


class ModelStatus(enum.Enum):
    """A logged model's status. The member names are MLflow's short names (what MLflow 3.18 takes in a
    filter); the values are the API's wire names (SPEC §1). :meth:`unknown` holds a value lmfilter does not
    know yet."""

    UNSPECIFIED = "LOGGED_MODEL_STATUS_UNSPECIFIED"
    PENDING = "LOGGED_MODEL_PENDING"
    READY = "LOGGED_MODEL_READY"
    FAILED = "LOGGED_MODEL_UPLOAD_FAILED"

    @property
    def wire_name(self) -> str:
        """The API's name (``LOGGED_MODEL_READY``); for an unknown status given by number, its digits."""
        return str(self._value_)

    @property
    def raw(self) -> str | int:
        """What to send back: the wire name, or an unknown status exactly as the server gave it."""
        value: str | int = self._value_
        return value

    @property
    def known(self) -> bool:
        """Whether this is one of the four statuses lmfilter knows (not a newer server's)."""
        return self in _NUMBERS

    @property
    def number(self) -> int:
        """The number a server stores (``LOGGED_MODEL_READY`` is 2); an unknown status's own number, or
        :data:`UNKNOWN_NAME_NUMBER` for one given by name."""
        known = _NUMBERS.get(self)
        if known is not None:
            return known
        return self._value_ if isinstance(self._value_, int) else UNKNOWN_NAME_NUMBER

    @classmethod
    def from_name(cls, name: str) -> ModelStatus:
        """The status a filter names: a short name (``READY``) or the wire name (``LOGGED_MODEL_READY``).

        Raises ``KeyError`` for anything else (names are upper case, as MLflow spells them).
        """
        return _BY_NAME[name]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every name :meth:`from_name` takes."""
        return tuple(_BY_NAME)

    @classmethod
    def unknown(cls, raw: str | int) -> ModelStatus:
        """A status lmfilter does not know, kept as the server sent it (its wire name or number); a known
        name or number gives that member."""
        if isinstance(raw, int) and raw in _BY_NUMBER:
            return _BY_NUMBER[raw]
        if isinstance(raw, str) and raw in _BY_NAME:
            return _BY_NAME[raw]
        status = object.__new__(cls)
        status._name_ = raw if isinstance(raw, str) else f"UNKNOWN_{raw}"
        status._value_ = raw  # type: ignore[assignment] # a number when the server sent one
        return status

    # Unknown statuses are made on demand, so equality is by value (for members, that is identity).
    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is ModelStatus and self._value_ == other._value_)

    def __hash__(self) -> int:
        return hash(self._value_)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, tuple[Any]]:
        return ModelStatus.unknown, (self._value_,)


_NUMBERS = {
    ModelStatus.UNSPECIFIED: 0,
    ModelStatus.PENDING: 1,
    ModelStatus.READY: 2,
    ModelStatus.FAILED: 3,
}

_BY_NUMBER = {number: status for status, number in _NUMBERS.items()}

_BY_NAME: dict[str, ModelStatus] = {
    **{status.name: status for status in ModelStatus},
    **{status.wire_name: status for status in ModelStatus},
}
