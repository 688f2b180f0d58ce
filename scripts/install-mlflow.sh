#!/usr/bin/env bash
# Create the two MLflow virtualenvs the conformance tests run servers from:
#   <venvs>/mlflow-3.17.2   pip install mlflow==3.17.2
#   <venvs>/mlflow-3.18.0   pip install mlflow==3.17.2, then pip install --no-deps mlflow==3.18.0
#                           (3.18.0's own mlflow-skinny is not on the index; the 3.17.2 deps serve it)
# Each venv also gets psycopg2-binary, so that its server can keep its store on PostgreSQL
# (tests/postgres.py gives it postgresql+psycopg2://...: the venv's SQLAlchemy 2.1 reads a bare
# postgresql:// as psycopg 3).
# <venvs> is $LMFILTER_VENVS_DIR, or <repo root>/.venvs by default.
# Idempotent: a venv whose mlflow already reports the wanted version (and has a stamp file) is skipped.
# Env: LMFILTER_VENVS_DIR (venvs folder), LMFILTER_PYTHON (interpreter, default python3).
# Usage: scripts/install-mlflow.sh [VERSION...]   (default: 3.17.2 3.18.0)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
VENVS_DIR="${LMFILTER_VENVS_DIR:-$ROOT/.venvs}"
PYTHON="${LMFILTER_PYTHON:-python3}"
BASE_VERSION="3.17.2"   # the newest release whose full dependency set is on the index

if [ "$#" -gt 0 ]; then VERSIONS=("$@"); else VERSIONS=("3.17.2" "3.18.0"); fi

installed_version() {  # prints the mlflow version a venv imports, or nothing
  local venv="$1"
  [ -x "$venv/bin/python" ] || return 0
  "$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null || true
}

pip_q() {  # quiet pip inside a venv; keep stderr only on failure
  local venv="$1"; shift
  local log
  log="$(mktemp)"
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; return 1
  fi
  rm -f "$log"
}

install_one() {
  local version="$1"
  local venv="$VENVS_DIR/mlflow-$version"
  local stamp="$venv/.lmfilter-mlflow-stamp"
  local have start
  have="$(installed_version "$venv")"
  if [ "$have" = "$version" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version+pg" ]; then
    echo "mlflow $version: already installed in $venv"
    return 0
  fi
  start=$SECONDS
  if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv"
  fi
  rm -f "$stamp"
  if [ "$version" = "$BASE_VERSION" ]; then
    pip_q "$venv" "mlflow==$version"
  else
    # Dependencies come from the base release; then the wanted release alone on top of it.
    pip_q "$venv" "mlflow==$BASE_VERSION"
    pip_q "$venv" --no-deps "mlflow==$version"
  fi
  pip_q "$venv" psycopg2-binary
  have="$(installed_version "$venv")"
  if [ "$have" != "$version" ]; then
    echo "mlflow $version: install failed, $venv imports mlflow '${have:-none}'" >&2
    return 1
  fi
  if ! "$venv/bin/python" -c 'import psycopg2' 2>/dev/null; then
    echo "mlflow $version: psycopg2 does not import in $venv" >&2
    return 1
  fi
  echo "$version+pg" >"$stamp"
  echo "mlflow $version: installed in $venv ($((SECONDS - start)) s)"
}

mkdir -p "$VENVS_DIR"
for v in "${VERSIONS[@]}"; do
  install_one "$v"
done
