"""The logged-model fields, their types, and the targets a filter can be meant for.

A *target* is data, not a branch in code: a :class:`Target` names what a server runs natively (the
:class:`Feature` s of the extended language it has, the attributes it knows, how it reads status) and how it
evaluates (SPEC §3). Checks and back ends ask the profile; a new MLflow release is a new entry in
:data:`TARGETS`.

>>> get_target("mlflow").title
'MLflow 3.18'
>>> Feature.OR in get_target("local").features, Feature.OR in get_target("databricks").features
(True, False)
>>> attribute("creation_time").name
'creation_timestamp'
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from lmfilter.ast import Entity, ValueType
from lmfilter.diagnostics import did_you_mean
from lmfilter.errors import LmfilterError

ENTITY_PREFIXES: Mapping[str, Entity] = {entity.value: entity for entity in Entity}


@dataclass(frozen=True, slots=True)
class Attribute:
    """A model attribute a filter can name bare (``name``) or as ``attributes.name``.

    ``column`` is MLflow's column for it: the only spelling MLflow also takes after ``attributes.``
    (``attributes.creation_timestamp`` is an HTTP 500 there, ``attributes.creation_timestamp_ms`` is not).
    """

    name: str
    type: ValueType
    nullable: bool
    doc: str
    aliases: tuple[str, ...] = ()
    column: str = ""

    @property
    def mlflow_column(self) -> str:
        return self.column or self.name


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("name", ValueType.STRING, False, "The model's name."),
    Attribute("model_id", ValueType.STRING, False, "The model's id (`m-` and 32 hex digits on MLflow)."),
    Attribute(
        "model_type",
        ValueType.STRING,
        True,
        "The model's type, e.g. 'agent'; MLflow stores '' when a model is created without one.",
    ),
    Attribute(
        "source_run_id",
        ValueType.STRING,
        True,
        "The run that produced the model; MLflow stores '' when there is none. Not on Databricks.",
    ),
    Attribute("experiment_id", ValueType.STRING, False, "The experiment the model belongs to."),
    Attribute("status", ValueType.STATUS, False, "READY, PENDING, FAILED or UNSPECIFIED."),
    Attribute("status_message", ValueType.STRING, True, "A message about the model's status."),
    Attribute(
        "artifact_location", ValueType.STRING, False, "Where the model's artifacts are (artifact_uri)."
    ),
    Attribute(
        "creation_timestamp",
        ValueType.NUMBER,
        False,
        "When the model was created, in milliseconds since the Unix epoch.",
        aliases=("creation_time", "creation_timestamp_ms"),
        column="creation_timestamp_ms",
    ),
    Attribute(
        "last_updated_timestamp",
        ValueType.NUMBER,
        False,
        "When the model last changed, in milliseconds since the Unix epoch.",
        aliases=("last_updated_timestamp_ms",),
        column="last_updated_timestamp_ms",
    ),
)

_ATTRIBUTES_BY_NAME: Mapping[str, Attribute] = {
    spelling: attr for attr in ATTRIBUTES for spelling in (attr.name, *attr.aliases)
}


def attribute(name: str) -> Attribute | None:
    """The attribute a name or alias stands for, or ``None``."""
    return _ATTRIBUTES_BY_NAME.get(name)


def attribute_spellings() -> tuple[str, ...]:
    """Every attribute name and alias, for suggestions and completion."""
    return tuple(_ATTRIBUTES_BY_NAME)


def suggest_attribute(name: str) -> str | None:
    """The attribute a misspelt name most likely meant.

    >>> suggest_attribute("nmae"), suggest_attribute("creation_tme")
    ('name', 'creation_time')
    """
    return did_you_mean(name, attribute_spellings())


def entity_type(entity: Entity, key: str) -> ValueType:
    """The type of a field's values (``UNKNOWN`` for an unknown attribute)."""
    if entity is Entity.METRIC:
        return ValueType.NUMBER
    if entity is not Entity.ATTRIBUTE:
        return ValueType.STRING
    attr = attribute(key)
    return attr.type if attr else ValueType.UNKNOWN


class Feature(enum.Enum):
    """A construct of lmfilter's language that a server may lack (servers only AND simple comparisons)."""

    OR = "OR"
    NOT = "NOT and NOT LIKE/ILIKE"
    GROUPING = "parentheses"
    IS_NULL = "IS NULL"
    BETWEEN = "BETWEEN"
    NUMERIC_PARAM = "numeric comparison on a param"
    QUOTE_IN_VALUE = "a string value the server would misread (a ', a final \\, a \\ in an IN list)"
    IN_NUMERIC = "IN on a numeric field"
    PREFIXED_ALIAS = "attributes.<name> where <name> is not MLflow's column name"
    PLAIN_ODD_KEY = "a key with : or $, or all digits, without backticks"
    FIELD = "a condition on an attribute the server lacks"
    STATUS = "a condition on status"


StatusFilter = Literal["names", "numbers", "none"]


@dataclass(frozen=True, slots=True)
class Target:
    """What one kind of server (or local evaluation) runs and how it evaluates.

    ``status_filter`` is how the server reads a condition on ``status``: ``"names"`` (MLflow 3.18 maps
    READY, PENDING, FAILED and UNSPECIFIED), ``"numbers"`` (MLflow 3.17 compares the stored number, so a
    name matches nothing), or ``"none"`` (not known to filter on status: evaluated locally).
    ``metric_rule`` is SPEC §3's rule for a metric condition: the ``"latest"`` passing row, or ``"any"``.
    ``metric_order`` is its rule for a metric's sort value: ``"latest"`` by (step, timestamp, value) among
    rows passing ``datasets`` and the entry's own dataset, or ``"latest-by-time"`` (MLflow 3.17) by
    timestamp, then step, then run id, among rows passing the entry's own dataset only.
    """

    name: str
    title: str
    kind: Literal["mlflow", "databricks", "local"]
    features: frozenset[Feature]
    attributes: frozenset[str]
    status_filter: StatusFilter
    metric_rule: Literal["latest", "any"]
    metric_order: Literal["latest", "latest-by-time"]
    max_results: int | None

    @property
    def is_server(self) -> bool:
        return self.kind != "local"


_ALL_ATTRIBUTES = frozenset(attr.name for attr in ATTRIBUTES)

_MLFLOW_3_18 = Target(
    name="mlflow-3.18",
    title="MLflow 3.18",
    kind="mlflow",
    features=frozenset(),
    attributes=_ALL_ATTRIBUTES,
    status_filter="names",
    metric_rule="latest",
    metric_order="latest",
    max_results=None,
)

TARGETS: Mapping[str, Target] = {
    "mlflow": _MLFLOW_3_18,
    "mlflow-3.18": _MLFLOW_3_18,
    "mlflow-3.17": Target(
        name="mlflow-3.17",
        title="MLflow 3.17",
        kind="mlflow",
        features=frozenset(),
        attributes=_ALL_ATTRIBUTES,
        status_filter="numbers",
        metric_rule="any",
        metric_order="latest-by-time",
        max_results=None,
    ),
    "databricks": Target(
        name="databricks",
        title="Databricks",
        kind="databricks",
        features=frozenset(),
        attributes=_ALL_ATTRIBUTES
        - {"source_run_id", "experiment_id", "status_message", "artifact_location"},
        status_filter="none",
        metric_rule="latest",
        metric_order="latest",
        max_results=50,
    ),
    "local": Target(
        name="local",
        title="local evaluation",
        kind="local",
        features=frozenset(Feature),
        attributes=_ALL_ATTRIBUTES,
        status_filter="names",
        metric_rule="latest",
        metric_order="latest",
        max_results=None,
    ),
}


class UnknownTargetError(LmfilterError, ValueError):
    """A target name that is not in :data:`TARGETS`."""


def get_target(target: str | Target) -> Target:
    """The profile for a target name (``mlflow``, ``mlflow-3.17``, ``databricks``, ``local``)."""
    if isinstance(target, Target):
        return target
    try:
        return TARGETS[target]
    except KeyError:
        hint = did_you_mean(target, TARGETS)
        known = ", ".join(TARGETS)
        raise UnknownTargetError(
            f"unknown target {target!r}" + (f"; did you mean {hint!r}?" if hint else f" (known: {known})")
        ) from None
