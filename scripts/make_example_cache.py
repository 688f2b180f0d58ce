#!/usr/bin/env python3
"""Write ``examples/models.json``: the conformance data set as a real MLflow 3.18 server returns it.

Starts an MLflow 3.18.0 server (from ``.venvs/mlflow-3.18.0``, made by ``scripts/install-mlflow.sh``),
seeds it with the data set of ``tests/servers.py`` (40 models, two of them deleted, metrics on several
datasets, missing params, tags and metrics), searches every experiment without a filter (so the models come
in the server's default order, ``creation_timestamp DESC, model_id ASC``) and saves the answer as one
search response, ``{"models": [...]}``, indented by two spaces. It is the file ``lmfilter eval`` runs on in
the README.

Usage: ``.venv/bin/python scripts/make_example_cache.py [--out examples/models.json] [--version 3.18.0]``
(``$LMFILTER_VENVS_DIR`` overrides ``.venvs``). Ids and timestamps differ on every run; the rest does not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.servers, run from anywhere

from tests.servers import MlflowServer, iter_search, seed  # noqa: E402 - needs the path above

MAX_BYTES = 300_000  # the README's example must stay small enough to read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO / "examples" / "models.json")
    parser.add_argument("--version", default="3.18.0", help="the MLflow server version (default 3.18.0)")
    args = parser.parse_args(argv)
    venvs = Path(os.environ.get("LMFILTER_VENVS_DIR") or REPO / ".venvs")

    with MlflowServer.start(args.version, venvs) as server:
        seeded = seed(server)
        models = list(iter_search(server, seeded.experiment_ids))
    if {m["info"]["model_id"] for m in models} != seeded.model_ids:
        raise SystemExit("the search did not return exactly the seeded models")

    text = json.dumps({"models": models}, indent=2, ensure_ascii=False) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    size = len(text.encode("utf-8"))
    datasets = {
        (m.get("dataset_name"), m.get("dataset_digest"))
        for model in models
        for m in model.get("data", {}).get("metrics", [])
    }
    print(f"wrote {args.out}: {len(models)} models, {len(datasets)} datasets (incl. none), {size:,} bytes")
    if size > MAX_BYTES:
        print(f"warning: more than {MAX_BYTES:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
