"""The language server's settings: what it checks for and where it learns known keys and values.

They are :mod:`lmfilter.config`'s, the ones ``lint`` reads (:class:`Settings`): ``target`` and ``native``,
``exclude`` and per-path ``overrides``; and the server's own, ``models``, a model file, and ``server`` with
``experiment_id``, an MLflow server whose models are fetched. Each source gives a *layer*, a table checked
by :func:`settings_layer` (what does not fit is left out and said); the ``[tool.lmfilter]`` table of the
workspace's ``pyproject.toml`` is read by :func:`pyproject_settings`. :func:`resolve` lays the layers over
the defaults of the command line, in the order :class:`~lmfilter.lsp.server.LmfilterServer` gives. Nothing
here knows about LSP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmfilter.config import Config, Override, find_pyproject, read_layer, read_pyproject


@dataclass(frozen=True, slots=True)
class Settings:
    """What the server checks for and where it learns known keys."""

    target: str = "mlflow"
    native: bool = False
    models: str | None = None  # a model file; wins over server
    server: str | None = None  # an MLflow server's URL, with experiment_id
    experiment_id: str | None = None
    exclude: tuple[str, ...] = ()
    overrides: tuple[Override, ...] = ()
    root: Path | None = None  # where exclude and override patterns are read from
    target_set: bool = False  # whether a source set the target (else a StackQL file's is Databricks')

    @property
    def model_source(self) -> tuple[str | None, str | None, str | None]:
        return (self.models, self.server, self.experiment_id)

    def configuration(self) -> Config:
        """The settings as ``lint`` takes them: a path's target and ``native``, and whether it is excluded."""
        return Config(
            target=self.target,
            native=self.native,
            exclude=self.exclude,
            overrides=self.overrides,
            root=self.root,
            origins={"target": "settings"} if self.target_set else {},
        )


def settings_layer(raw: object, origin: str, base: Path | None, problems: list[str]) -> dict[str, Any]:
    """The settings one source gives, checked (:func:`lmfilter.config.read_layer`); what is wrong goes to
    ``problems`` and is left out. An editor's settings may hold other tools' (left alone).

    A relative ``models`` path is taken from ``base`` (the workspace root, or the pyproject's folder).

    >>> problems = []
    >>> settings_layer({"target": "mlflow-3.17", "native": "yes", "color": 1}, "test", None, problems)
    {'target': 'mlflow-3.17'}
    >>> problems
    ["test: native must be a bool, not 'yes'"]
    """
    return read_layer(raw, origin, base, problems, strict=False)


def pyproject_settings(root: Path, problems: list[str]) -> dict[str, Any]:
    """The ``[tool.lmfilter]`` table that ``lint`` run in ``root`` reads: of the nearest ``pyproject.toml``
    that has one, from ``root`` up (:func:`lmfilter.config.find_pyproject`), checked as ``lint`` checks it;
    with the folder its patterns are read from (the file's; ``root`` when there is none).

    A file that cannot be read or parsed, or is over :data:`~lmfilter.config.PYPROJECT_LIMIT` bytes, gives
    none and a problem.
    """
    path = find_pyproject(root)
    table = read_pyproject(path, problems) if path is not None else None
    if path is None or table is None:
        return {"root": root}
    return {**read_layer(table, f"{path} [tool.lmfilter]", path.parent, problems), "root": path.parent}


def resolve(defaults: Settings, *layers: Mapping[str, Any]) -> Settings:
    """The settings: ``defaults`` overridden by each layer in turn (the last wins); overrides add up, later
    ones last, as :meth:`lmfilter.config.Config.merged` has them.

    >>> resolve(Settings(), {"target": "databricks", "native": True}, {"native": False})
    Settings(target='databricks', native=False, models=None, server=None, experiment_id=None, exclude=(), \
overrides=(), root=None, target_set=True)
    """
    merged: dict[str, Any] = {}
    overrides = defaults.overrides
    for layer in layers:
        merged.update(layer)
        overrides += tuple(layer.get("overrides", ()))
    target_set = defaults.target_set or "target" in merged
    return dataclasses.replace(defaults, **{**merged, "overrides": overrides, "target_set": target_set})
