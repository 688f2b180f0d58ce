"""The logged-model status enum, shared by the language and the API's record shapes.

>>> ModelStatus.from_name("READY") is ModelStatus.from_name("LOGGED_MODEL_READY") is ModelStatus.READY
True
>>> ModelStatus.FAILED.name, ModelStatus.FAILED.wire_name, ModelStatus.FAILED.number
('FAILED', 'LOGGED_MODEL_UPLOAD_FAILED', 3)
"""

from __future__ import annotations

import enum


class ModelStatus(enum.Enum):
    """A logged model's status. The member names are MLflow's short names (what MLflow 3.18 takes in a
    filter); the values are the API's wire names (SPEC §1)."""

    UNSPECIFIED = "LOGGED_MODEL_STATUS_UNSPECIFIED"
    PENDING = "LOGGED_MODEL_PENDING"
    READY = "LOGGED_MODEL_READY"
    FAILED = "LOGGED_MODEL_UPLOAD_FAILED"

    @property
    def wire_name(self) -> str:
        return self.value

    @property
    def number(self) -> int:
        """The number a server stores (``LOGGED_MODEL_READY`` is 2)."""
        return _NUMBERS[self]

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


_NUMBERS = {
    ModelStatus.UNSPECIFIED: 0,
    ModelStatus.PENDING: 1,
    ModelStatus.READY: 2,
    ModelStatus.FAILED: 3,
}

_BY_NAME: dict[str, ModelStatus] = {
    **{status.name: status for status in ModelStatus},
    **{status.wire_name: status for status in ModelStatus},
}
