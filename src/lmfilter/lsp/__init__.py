"""The language server: lmfilter's checks, fixes and help in any editor that speaks LSP (stdio).

``lmfilter lsp`` (or ``python -m lmfilter.lsp``) serves ``.lmf`` files (one filter a line, ``#`` comments),
Python files, where the filter strings that :mod:`lmfilter.documents` finds are linted in place, and StackQL
files (``.iql``, ``.sql``, or languageId ``sql`` or ``stackql``), whose statements on
``databricks_workspace.ml.logged_models`` are checked as ``lint`` checks them (for Databricks unless a target
is set), completion and hover working inside their ``@@json`` search filter:

- **diagnostics** on open and after changes (incremental sync): each lmfilter diagnostic with its code,
  severity and range in the client's position units (UTF-16 unless the client asked for another), and an
  information for each filter that is skipped (implicit concatenation, an f-string with holes);
- **code actions**: a quick fix for each :class:`~lmfilter.diagnostics.Fix`, its edits mapped back to the
  document (escaped for the Python string literal they land in);
- **completion** on broken, half-typed text, from what the parser takes at the cursor: entity prefixes,
  attributes and known keys where a field goes, the operators the checker accepts for that field, status
  names and known values where a value goes, and keywords; in Python only inside a linted filter string;
- **hover** over a field (a token the parser reads as one, in broken text too): its type, meaning and
  operators, and what the known models hold for it;
- **formatting** of ``.lmf`` files or a range of their lines (each line that parses, in canonical text) and
  **semantic tokens** (fields and values as the parser reads them), of a whole document or a range.

It stays responsive whatever the documents. Linting runs in a background thread
(:class:`~lmfilter.lsp.background.Linter`), never on the path of a request: a change is linted once typing
pauses, work on a text that has since changed is dropped and never published, and a relint checks again only
the filters whose text changed. Requests answer from the newest text: hover and completion in a ``.lmf`` file
read the line itself; in Python, the filters found when the text was last outlined, where their lines are
unchanged. A document over :data:`LIVE_LIMIT` characters is linted when opened or saved, not as it is typed;
formatting or semantic tokens of that much text at once are refused, and what is done runs in a thread that
stops if the document changes. A request whose params do not fit, or that names a document not open or a line
past its end, gets a JSON-RPC error (``InvalidParams``) saying so
(:class:`~lmfilter.lsp.protocol.LmfilterProtocol`).

Settings are ``target``, ``native``, ``models`` (a model file, :mod:`lmfilter.model_files`), ``server`` and
``experiment_id`` (an MLflow server whose models are fetched once, then on the command
``lmfilter.refreshModels``). They come, each the winner over the next, from the client's
``initializationOptions``, ``workspace/configuration`` (section ``lmfilter``), a ``[tool.lmfilter]`` table
in the workspace root's ``pyproject.toml``, and the command line (whose own defaults are ``mlflow``, not
native). Known keys and values come from ``models`` when it is set, else from ``server``.

What completion offers is what the parser's own LALR state takes at the cursor, the text before it read with
the parser's recovery (:func:`lmfilter.syntax.expected_at`), so it works where the parse fails:

>>> from lmfilter.lsp.completion import suggest
>>> [s.label for s in suggest("metrics.acc ", 12)][:7]
['=', '!=', '<', '<=', '>', '>=', 'IN']
>>> [s.label for s in suggest("name = 'a' AND status = ", 24)]
["'UNSPECIFIED'", "'PENDING'", "'READY'", "'FAILED'"]
>>> [s.label for s in suggest("name = = 'a' AND ", 17)][:4]
['metrics.', 'params.', 'tags.', 'attributes.']

Where things are, each module knowing only those above it:

- :mod:`~lmfilter.lsp.settings`: the settings and their sources (``pyproject.toml`` among them);
- :mod:`~lmfilter.lsp.known`: the keys and values of known models, from a model file or a server;
- :mod:`~lmfilter.lsp.fields`: a field's type, the operators the checker takes after it, and which tokens of
  a filter the parser reads as fields and values;
- :mod:`~lmfilter.lsp.hover` and :mod:`~lmfilter.lsp.completion`: what hover shows and completion offers;
- :mod:`~lmfilter.lsp.positions`: lines as LSP counts them, client positions, where a filter's characters are;
- :mod:`~lmfilter.lsp.analysis`: a document's filters found and checked, as findings;
- :mod:`~lmfilter.lsp.presentation`: semantic tokens and formatting edits;
- :mod:`~lmfilter.lsp.open_documents`: the open documents, changed by the client's edits;
- :mod:`~lmfilter.lsp.background`: linting in a background thread, and requests' work in threads;
- :mod:`~lmfilter.lsp.protocol`: JSON-RPC, every request answered however malformed;
- :mod:`~lmfilter.lsp.server`: the server, its handler of each message, and :func:`main`.
"""

from __future__ import annotations

_EXTRA = frozenset({"pygls", "lsprotocol", "cattrs"})
"""The packages of the ``lsp`` extra (pygls and what it brings) that the modules of this package import."""

try:
    from lmfilter.lsp.analysis import analyze
    from lmfilter.lsp.open_documents import LIVE_LIMIT
    from lmfilter.lsp.server import REFRESH_MODELS, LmfilterServer, build_server, main
    from lmfilter.lsp.settings import Settings
except ImportError as error:  # one of the extra's packages is missing, or lacks a name: say which extra
    if (error.name or "").partition(".")[0] not in _EXTRA:
        raise
    raise ImportError("lmfilter's language server needs pygls: pip install 'lmfilter[lsp]'") from error

__all__ = ["LIVE_LIMIT", "REFRESH_MODELS", "LmfilterServer", "Settings", "analyze", "build_server", "main"]
