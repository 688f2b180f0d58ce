"""One configuration for every face: ``[tool.lmfilter]`` in ``pyproject.toml``, read by ``lint``, ``check``,
``fmt``, the pre-commit hook and the language server alike.

.. code-block:: toml

    [tool.lmfilter]
    target = "mlflow-3.17"       # what filters are checked for (default: mlflow)
    native = false               # whether .lmf filters and lmfilter's own calls are sent as they are
    exclude = ["legacy/", "*_generated.py"]

    [[tool.lmfilter.overrides]]  # later overrides win
    paths = ["notebooks/**"]
    target = "databricks"
    native = true

The file is the nearest ``pyproject.toml`` with a ``[tool.lmfilter]`` table, from the current directory up
(or one named with ``--config``). Patterns are read from the file's folder, as ``.gitignore`` reads them: one
without a ``/`` matches a file or folder name at any depth, one with a ``/`` matches the path from the folder
(``*`` stays within a name, ``**`` crosses folders); what is under a matched folder matches too. Command-line
flags win over the file, and every setting remembers where it came from (``lmfilter config`` prints them).

>>> config = Config.of({"target": "databricks", "overrides": [{"paths": ["nb/**"], "native": True}]}, "test")
>>> config.for_path("nb/a.py"), config.for_path("src/a.py")
(('databricks', True), ('databricks', False))
>>> config.origins["target"]
'test'
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, cast

from lmfilter.diagnostics import did_you_mean
from lmfilter.errors import LmfilterError
from lmfilter.schema import UnknownTargetError, get_target

PYPROJECT_LIMIT = 1 << 20
"""Most bytes of a ``pyproject.toml`` read for settings (one is a few kilobytes)."""

DEFAULT = "default"  # the origin of a setting nobody set

# The settings, with their types. ``models``, ``server`` and ``experiment_id`` are the language server's
# (where it learns known keys and values).
TYPES: Mapping[str, type] = {
    "target": str,
    "native": bool,
    "exclude": list,
    "overrides": list,
    "models": str,
    "server": str,
    "experiment_id": str,
}
_OVERRIDE_TYPES: Mapping[str, type] = {"paths": list, "target": str, "native": bool}


class ConfigError(LmfilterError, ValueError):
    """A configuration lmfilter cannot use: every problem found, one a line."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True, slots=True)
class Override:
    """Settings for the paths that match any of ``paths``."""

    paths: tuple[str, ...]
    target: str | None = None
    native: bool | None = None
    origin: str = DEFAULT


@dataclass(frozen=True)
class Config:
    """The settings in force, where each came from, and how they apply to a path.

    ``root`` is the folder patterns are read from (the configuration file's, else the current directory);
    ``problems`` lists what was wrong and left out (a layer that is read leniently, such as an editor's).
    """

    target: str = "mlflow"
    native: bool = False
    exclude: tuple[str, ...] = ()
    overrides: tuple[Override, ...] = ()
    models: str | None = None
    server: str | None = None
    experiment_id: str | None = None
    root: Path | None = None
    file: Path | None = None
    origins: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @classmethod
    def of(cls, table: object, origin: str, *, base: Path | None = None, strict: bool = True) -> Config:
        """The configuration one table gives (``{}``: the defaults). With ``strict``, a problem raises
        :class:`ConfigError`; else it is kept in ``problems`` and the setting left out."""
        problems: list[str] = []
        layer = read_layer(table, origin, base, problems, strict=strict)
        if strict and problems:
            raise ConfigError(problems)
        return cls(root=base).merged(layer, origin, problems)

    def merged(self, layer: Mapping[str, Any], origin: str, problems: Iterable[str] = ()) -> Config:
        """This configuration with a layer's settings over it (an override list adds to the earlier one)."""
        changes = dict(layer)
        if "overrides" in changes:
            changes["overrides"] = self.overrides + tuple(changes["overrides"])
        origins = {**self.origins, **dict.fromkeys(changes, origin)}
        return dataclasses.replace(self, **changes, origins=origins, problems=(*self.problems, *problems))

    def origin(self, name: str) -> str:
        """Where a setting came from."""
        return self.origins.get(name, DEFAULT)

    def relative(self, path: str | os.PathLike[str]) -> str | None:
        """``path`` from :attr:`root`, with ``/`` (``None`` when it is outside)."""
        root = (self.root or Path.cwd()).resolve()
        # Both resolved: a file named through a link to the project (or a workspace opened through one)
        # is the file it names.
        try:
            return Path(path).resolve().relative_to(root).as_posix()
        except (ValueError, OSError, RuntimeError):  # outside the root; a loop of links
            return None

    def excluded(self, path: str | os.PathLike[str]) -> bool:
        """Whether a path matches an ``exclude`` pattern (or is under a folder that does)."""
        relative = self.relative(path)
        return relative is not None and any(matches(p, relative) for p in self.exclude)

    def for_path(self, path: str | os.PathLike[str]) -> tuple[str, bool]:
        """The target and ``native`` for a file: the settings, each override that matches it over them."""
        target, native = self.target, self.native
        relative = self.relative(path)
        if relative is None:
            return target, native
        for override in self.overrides:
            if any(matches(p, relative) for p in override.paths):
                target = override.target if override.target is not None else target
                native = override.native if override.native is not None else native
        return target, native

    def shown(self) -> list[tuple[str, object, str]]:
        """Each setting, its value and where it came from: what ``lmfilter config`` prints."""
        values: list[tuple[str, object, str]] = [
            (name, getattr(self, name), self.origin(name)) for name in TYPES if name != "overrides"
        ]
        for override in self.overrides:
            settings = {"target": override.target, "native": override.native}
            given = {k: v for k, v in settings.items() if v is not None}
            values.append((f"overrides[{list(override.paths)}]", given, override.origin))
        return values


def read_layer(
    table: object, origin: str, base: Path | None, problems: list[str], *, strict: bool = True
) -> dict[str, Any]:
    """The settings one source gives, checked; what is wrong goes to ``problems`` and is left out.

    A relative ``models`` path is read from ``base``. An unknown setting is a problem when ``strict`` (a
    ``[tool.lmfilter]`` table is lmfilter's alone); an editor's settings may hold others, left alone.

    >>> problems = []
    >>> read_layer({"target": "mlflow-3.17", "native": "yes", "targte": 1}, "test", None, problems)
    {'target': 'mlflow-3.17'}
    >>> problems
    ["test: native must be a bool, not 'yes'", "test: unknown setting 'targte'; did you mean 'target'?"]
    """
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        problems.append(f"{origin}: expected a table of settings, not {table!r}")
        return {}
    layer: dict[str, Any] = {}
    value: Any
    for name, value in table.items():
        wanted = TYPES.get(name)
        if wanted is None:
            if strict:
                problems.append(_unknown(origin, name, TYPES))
            continue
        if value is None:
            continue
        if name == "experiment_id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, wanted) or (wanted is not bool and isinstance(value, bool)):
            problems.append(f"{origin}: {name} must be a {_kind(wanted)}, not {value!r}")
            continue
        value = cast(Any, value)  # of the type wanted
        if name == "target" and not _known_target(value, origin, problems):
            continue
        if name == "exclude":
            if not all(isinstance(p, str) and p for p in value):
                problems.append(f"{origin}: exclude must be a list of patterns, not {value!r}")
                continue
            if any(_unreadable_pattern(p, f"{origin}: exclude", problems) for p in value):
                continue
            value = tuple(value)
        if name == "overrides":
            value = tuple(_overrides(value, origin, problems))
        if name == "models" and base is not None:
            value = str(base / Path(str(value)).expanduser())
        layer[name] = value
    return layer


def _unknown(origin: str, name: object, known: Iterable[str]) -> str:
    guess = did_you_mean(str(name), known)
    return f"{origin}: unknown setting {name!r}" + (f"; did you mean {guess!r}?" if guess else "")


def _unreadable_pattern(pattern: str, where: str, problems: list[str]) -> bool:
    """Whether a pattern would silently match nothing (and the problem said): one that climbs out of the
    folder it is read from, or uses ``\\`` between folders."""
    if "\\" in pattern:
        problems.append(f"{where}: {pattern!r} uses '\\'; patterns separate folders with '/'")
        return True
    if ".." in pattern.split("/"):
        problems.append(
            f"{where}: {pattern!r} climbs out with '..'; patterns are read from the file's folder"
        )
        return True
    return False


def _kind(wanted: type) -> str:
    return {list: "list", str: "string", bool: "bool"}.get(wanted, wanted.__name__)


def _known_target(value: str, origin: str, problems: list[str]) -> bool:
    try:
        get_target(value)
    except UnknownTargetError as error:
        problems.append(f"{origin}: {error}")
        return False
    return True


def _overrides(tables: list[Any], origin: str, problems: list[str]) -> Iterable[Override]:
    for index, table in enumerate(tables):
        where = f"{origin} overrides[{index}]"
        if not isinstance(table, Mapping):
            problems.append(f"{where}: expected a table, not {table!r}")
            continue
        problems += (_unknown(where, name, _OVERRIDE_TYPES) for name in table if name not in _OVERRIDE_TYPES)
        paths = table.get("paths")
        if not (isinstance(paths, list) and paths and all(isinstance(p, str) and p for p in paths)):
            problems.append(f"{where}: paths must be a list of patterns, not {paths!r}")
            continue
        if any(_unreadable_pattern(p, f"{where}: paths", problems) for p in paths):
            continue
        target, native = table.get("target"), table.get("native")
        if target is not None and not (isinstance(target, str) and _known_target(target, where, problems)):
            if not isinstance(target, str):
                problems.append(f"{where}: target must be a string, not {target!r}")
            continue
        if native is not None and not isinstance(native, bool):
            problems.append(f"{where}: native must be a bool, not {native!r}")
            continue
        yield Override(tuple(paths), target, native, where)


# ---- the file -----------------------------------------------------------------------------------------


def read_pyproject(path: Path, problems: list[str]) -> Mapping[str, Any] | None:
    """The ``[tool.lmfilter]`` table of a ``pyproject.toml`` (``None`` when it has none).

    A file that cannot be read or parsed, or is over :data:`PYPROJECT_LIMIT` bytes, gives none and a problem.
    """
    if not path.is_file():  # none; or a folder, a FIFO or a device, which reading could block on
        if path.exists():
            problems.append(f"{path}: not a regular file, not read")
        return None
    try:
        with path.open("rb") as file:
            data = file.read(PYPROJECT_LIMIT + 1)
        if len(data) > PYPROJECT_LIMIT:
            problems.append(f"{path}: over {PYPROJECT_LIMIT:,} bytes, not read")
            return None
        document = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        problems.append(f"{path}: {error}")
        return None
    except RecursionError:  # tomllib recurses into nested arrays and tables
        problems.append(f"{path}: nested too deeply to read")
        return None
    tool = document.get("tool")
    table = tool.get("lmfilter") if isinstance(tool, dict) else None
    return table if table is not None else None


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.lmfilter]`` table, from ``start`` up."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        problems: list[str] = []
        if candidate.exists() and (read_pyproject(candidate, problems) is not None or problems):
            return candidate  # one that cannot be read may have the table: loading it says what is wrong
    return None


def load(
    start: str | os.PathLike[str] | None = None, *, file: str | os.PathLike[str] | None = None
) -> Config:
    """The configuration in force at ``start`` (the current directory by default): the ``[tool.lmfilter]``
    of ``file``, or of the nearest ``pyproject.toml`` that has one; the defaults when there is none.

    Raises :class:`ConfigError` when the file cannot be read or a setting is wrong: a configuration that is
    half applied would check against what the user did not ask for.
    """
    problems: list[str] = []
    where = Path(os.path.abspath(start if start is not None else os.curdir))
    path = Path(file) if file is not None else find_pyproject(where if where.is_dir() else where.parent)
    if path is None:
        return Config(root=where if where.is_dir() else where.parent)
    if not path.exists():
        raise ConfigError([f"{path}: no such file"])
    table = read_pyproject(path, problems)
    if file is not None and table is None and not problems:
        problems.append(f"{path}: no [tool.lmfilter] table")
    if problems:
        raise ConfigError(problems)
    config = Config.of(table, f"{path} [tool.lmfilter]", base=path.parent.resolve())
    return dataclasses.replace(config, file=path)


# ---- patterns -----------------------------------------------------------------------------------------


def matches(pattern: str, relative: str) -> bool:
    """Whether a ``/``-separated path from the root matches a pattern, or lies under a folder that does.

    >>> matches("legacy", "src/legacy/a.py"), matches("*.lmf", "a/b.lmf"), matches("src/*.py", "src/a/b.py")
    (True, True, False)
    >>> matches("src/**/*.py", "src/a/b.py"), matches("/top.lmf", "x/top.lmf"), matches("nb/", "nb/x.py")
    (True, False, True)
    """
    pattern = pattern.strip()
    anchored = "/" in pattern.rstrip("/")
    regex = _pattern(pattern.strip("/"))
    parts = PurePosixPath(relative).parts
    if not anchored:  # a name at any depth: the file's or a folder's
        return any(regex.fullmatch(part) for part in parts)
    return any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1))


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(glob: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(glob)
    if compiled is None:
        out, i = [], 0
        while i < len(glob):
            if glob.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
            elif glob.startswith("**", i):
                out.append(".*")
                i += 2
            elif glob[i] == "*":
                out.append("[^/]*")
                i += 1
            elif glob[i] == "?":
                out.append("[^/]")
                i += 1
            else:
                out.append(re.escape(glob[i]))
                i += 1
        compiled = _PATTERNS[glob] = re.compile("".join(out), re.DOTALL)
    return compiled
