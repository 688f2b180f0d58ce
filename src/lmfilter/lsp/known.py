"""Known models: the keys and values that a model file or an MLflow server holds, by field.

:func:`load_known` reads them for the :class:`~lmfilter.lsp.settings.Settings` in force (the server runs it in
a thread, once, and again on the command ``lmfilter.refreshModels``) into a :class:`Known`, which never fails:
what went wrong is its ``error``. Completion offers the keys and values it counts; hover shows what it holds
for a field (:class:`FieldStats`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lmfilter import ast
from lmfilter.ast import Entity
from lmfilter.auth import shown_url
from lmfilter.client import Client, LoggedModelsError
from lmfilter.lsp.settings import Settings
from lmfilter.model_files import CacheError, iter_models
from lmfilter.records import Record, RecordError
from lmfilter.schema import ATTRIBUTES
from lmfilter.status import ModelStatus


@dataclass(slots=True)
class FieldStats:
    """What the known models hold for one field: how many have it, its values (text), its range (numbers)."""

    models: int = 0
    values: Counter[str] = field(default_factory=Counter)
    low: float | None = None
    high: float | None = None
    datasets: set[str] = field(default_factory=set)

    def add_number(self, value: float) -> None:
        self.low = value if self.low is None else min(self.low, value)
        self.high = value if self.high is None else max(self.high, value)


@dataclass(slots=True)
class Known:
    """The keys and values of known models (a model file or a server), by field."""

    source: str = ""
    models: int = 0
    fields: dict[tuple[Entity, str], FieldStats] = field(default_factory=dict)
    skipped: int = 0  # records that are not logged models
    error: str | None = None

    @classmethod
    def of(cls, models: Iterable[Any], source: str) -> Known:
        """Index models given as API-JSON dicts or :class:`~lmfilter.wire.LoggedModel` objects."""
        known = cls(source)
        for index, item in enumerate(models):
            try:
                record = Record.of(item, index)
                entries = [
                    *((Entity.PARAM, key, value) for key, value in record.params().items()),
                    *((Entity.TAG, key, value) for key, value in record.tags().items()),
                    *((Entity.ATTRIBUTE, attr.name, record.attribute(attr.name)) for attr in ATTRIBUTES),
                ]
                rows = record.metric_rows(None)
            except RecordError:
                known.skipped += 1
                continue
            known.models += 1
            for entity, key, value in entries:
                if value is None:
                    continue
                stats = known._stats(entity, key)
                if isinstance(value, ModelStatus):
                    stats.values[value.name] += 1
                elif isinstance(value, int | float):
                    stats.add_number(float(value))
                else:
                    stats.values[str(value)] += 1
            for key, metric_rows in rows.items():
                stats = known._stats(Entity.METRIC, key)
                for row in metric_rows:
                    stats.add_number(row.value)
                    if row.dataset_name:
                        stats.datasets.add(row.dataset_name)
        return known

    def _stats(self, entity: Entity, key: str) -> FieldStats:
        stats = self.fields.get((entity, key))
        if stats is None:
            stats = self.fields[(entity, key)] = FieldStats()
        stats.models += 1
        return stats

    def keys(self, entity: Entity) -> list[str]:
        """The keys of an entity, the most common first."""
        found = [(key, stats.models) for (kind, key), stats in self.fields.items() if kind is entity]
        return [key for key, _ in sorted(found, key=lambda item: (-item[1], item[0]))]

    def stats(self, fld: ast.Field) -> FieldStats | None:
        return self.fields.get((fld.entity, fld.key))


NOTHING_KNOWN = Known()


def load_known(settings: Settings) -> Known:
    """The known models of the settings' model file, or else of its server (never raises)."""
    if settings.models:
        try:
            return Known.of(iter_models(settings.models), settings.models)
        except CacheError as error:
            return Known(settings.models, error=str(error))
    if settings.server and settings.experiment_id:
        source = f"{shown_url(settings.server)}, experiment {settings.experiment_id}"
        try:
            with Client(settings.server) as client:
                return Known.of(client.search(None, experiment_ids=[settings.experiment_id]), source)
        except (LoggedModelsError, ValueError, OSError) as error:
            return Known(source, error=str(error))
    return NOTHING_KNOWN
