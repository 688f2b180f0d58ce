#!/usr/bin/env python3
"""Probe what an MLflow server's logged-model search accepts as a filter, and what it returns.

Stdlib only (urllib). Given a base URL (e.g. http://127.0.0.1:5000), it:
  1. creates a fresh experiment,
  2. creates three logged models with params and tags (see FIXTURE below), moves one to READY and
     one to UPLOAD_FAILED (the third stays PENDING), and logs an `acc` metric for two of them through
     a run (runs/log-batch with model_id),
  3. sends every filter of FILTERS to POST /api/2.0/mlflow/logged-models/search
     ({"experiment_ids": [id], "filter": F}) and prints one row per filter:
        filter | HTTP status | error_code | first 150 chars of message | number of models | names

Usage:
  python3 scripts/probe_native.py http://127.0.0.1:5000 [--json OUT.json] [--filters FILE]

--filters FILE reads one filter per line instead of the built-in list (a line is taken verbatim,
without its newline; `<EMPTY>` stands for '' and `<NO FILTER>` for a request without the key).
--json writes the raw results (for diffing two servers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

NO_FILTER = object()  # sentinel: send the search without a "filter" key

# Names: m1 'a' (READY, model_type sklearn), m2 'b' (PENDING), m3 'c' (UPLOAD_FAILED).
FIXTURE = [
    {
        "name": "a",
        "model_type": "sklearn",
        "params": {
            "x": "a",
            "a.b": "c",
            "a b": "c",
            "a:b": "c",
            "123": "x",
        },
        "tags": {
            "t": "z",
            "in": "x",
            "and": "x",
            "a-b": "x",
            "a/b": "x",
            "é": "x",
            "or": "x",
            "not": "x",
            "is": "x",
            "null": "x",
            "like": "x",
            "select": "x",
            "a$b": "x",
            "1a": "x",
            "u": "Äpfel",
        },
        "status": "LOGGED_MODEL_READY",
        "acc": 0.9,
    },
    {
        "name": "b",
        "params": {"x": "b"},
        "tags": {"t": "y"},
        "status": None,
        "acc": 0.3,
    },
    {
        "name": "c",
        "params": {"x": "it's", "y": "a'b"},
        "tags": {},
        "status": "LOGGED_MODEL_UPLOAD_FAILED",
        "acc": None,
    },
]

FILTERS: list = [
    # --- the brief's list -------------------------------------------------------------------
    "name = 'a'",
    "name='a'",
    'name = "a"',
    "name = a",
    "NAME = 'a'",
    "attributes.name = 'a'",
    "attribute.name = 'a'",
    "attr.name='a'",
    "run.name='a'",
    "model.name='a'",
    "metric.acc > 1",
    "param.x = 'a'",
    "Metrics.acc > 1",
    "METRICS.acc > 1",
    "nmae = 'a'",
    "creation_time > 0",
    "attributes.creation_time > 0",
    "creation_timestamp > 0",
    "attributes.creation_timestamp > 0",
    "last_updated_timestamp > 0",
    "last_updated_time > 0",
    "model_id = 'x'",
    "source_run_id = 'x'",
    "model_type = ''",
    "model_type = 'sklearn'",
    "experiment_id = '1'",
    "artifact_uri = 'x'",
    "status = 'READY'",
    "status = 'LOGGED_MODEL_READY'",
    "status = 2",
    "status = READY",
    "status IN ('READY')",
    "status != 'READY'",
    "status = 'FAILED'",
    "status = 'UPLOAD_FAILED'",
    "status = 'BOGUS'",
    "status LIKE 'R%'",
    "status > 1",
    "metrics.acc > 0.5",
    "metrics.acc > '0.5'",
    "metrics.acc = 'high'",
    "metrics.acc LIKE 'x'",
    "metrics.acc IN (1, 2)",
    "metrics.acc > 1e-3",
    "metrics.acc > -1",
    "metrics.acc > .5",
    "metrics.acc > 5.",
    "metrics.acc > 0x10",
    "metrics.acc > inf",
    "metrics.acc > nan",
    "metrics.acc > 1_000",
    "params.x = 'a'",
    "params.x > 'a'",
    "params.x < 0.3",
    "params.x = 0.3",
    "params.x LIKE 'a%'",
    "params.x ILIKE 'A%'",
    "params.x IN ('a', 'b')",
    "params.x NOT IN ('a')",
    "params.x IN ()",
    "params.x IN ('a')",
    "params.x NOT LIKE 'a'",
    "params.x NOT ILIKE 'a'",
    "params.x = 'it''s'",
    "params.x = 'a\\'b'",
    "params.a.b = 'c'",
    "params.`a b` = 'c'",
    "params.\"a b\" = 'c'",
    "params.`a:b` = 'c'",
    "tags.in = 'x'",
    "tags.and = 'x'",
    "tags.`and` = 'x'",
    "params.123 = 'x'",
    "params.`123` = 'x'",
    "tags.a-b = 'x'",
    "tags.a/b = 'x'",
    "tags.é = 'x'",
    "name = 'a' AND name = 'b'",
    "name = 'a' and name = 'b'",
    "name = 'a' AND",
    "AND name = 'a'",
    "name = 'a' AND AND name = 'b'",
    "name = 'a' name = 'b'",
    "name = 'a' OR name = 'b'",
    "NOT name = 'a'",
    "(name = 'a')",
    "name IS NULL",
    "model_type IS NULL",
    "metrics.acc BETWEEN 0 AND 1",
    "name = ''",
    "",
    "   ",
    "name != 'a'",
    "name <> 'a'",
    "name == 'a'",
    "creation_timestamp = '5'",
    "creation_timestamp LIKE '5'",
    "name LIKE 'a%'",
    "name ILIKE 'A%'",
    "name IN ('a','b')",
    "model_id IN ('x')",
    "source_run_id IN ('x')",
    "name = 'unterminated",
    "name = 'a' AND metrics.acc > 1 AND params.x = 'y' AND tags.t = 'z'",
    # --- extras ------------------------------------------------------------------------------
    NO_FILTER,
    "name = 'a' AND name = 'a'",
    "name = 'a' AND AND name = 'a'",
    "name = 'a' name = 'a'",
    "AND",
    "name = 'a' AND params.x = 'a' AND tags.t = 'z' AND metrics.acc > 0.5",
    "Name = 'a'",
    "name = 'A'",
    "name like 'a%'",
    "name ilike 'A%'",
    "name LIKE 'A%'",
    "name in ('a')",
    "name not in ('a')",
    "name NOT IN ('a')",
    "name NOT LIKE 'a'",
    "name IN ('a',)",
    "name IN 'a'",
    "name IN ('a' 'b')",
    "name = 'a';",
    "name ='a'",
    "name= 'a'",
    "name\t=\t'a'",
    "name = 'a'\nAND params.x = 'a'",
    "name = `a`",
    "`name` = 'a'",
    "attributes.`name` = 'a'",
    "params.`x` = 'a'",
    "params.\"x\" = 'a'",
    "`params.x` = 'a'",
    'params.x = "a"',
    "params.x = a",
    "params.x = 'a' AND tags.t = 'z'",
    "params.x != 'a'",
    "params.x IN ('a', 'it''s')",
    "params.x = 'it\\'s'",
    "params.x LIKE 'it%'",
    "params.y = 'a''b'",
    "params.y LIKE 'a_b'",
    "params.nokey != 'a'",
    "params.x = 'a' OR params.x = 'b'",
    "tags.t = 'z'",
    "tags.T = 'z'",
    "tags.t != 'z'",
    "tags.t ILIKE 'Z'",
    "tags.t IN ('y', 'z')",
    "tags.t LIKE '%'",
    "tags.`a b` = 'x'",
    "tags.`a`b` = 'x'",
    "tags.a b = 'x'",
    "tags. t = 'z'",
    "tags.t.u = 'x'",
    "tags.`` = 'x'",
    "metrics.acc>0.5",
    "metrics.acc >= 0.9",
    "metrics.acc = 0.9",
    "metrics.acc != 0.9",
    "metrics.acc < 1 AND metrics.acc > 0.5",
    "metrics.acc > -inf",
    "metrics.acc > 1e400",
    "metrics.acc > Infinity",
    "metrics.acc > +1",
    "metrics.acc > 0.5 AND metrics.acc > 0.1",
    "metrics.nokey != 0",
    "metrics.`acc` > 0.5",
    "metrics.acc > true",
    "metrics.acc NOT IN (1)",
    "creation_timestamp > 1.5",
    "creation_time >= 0",
    "creation_timestamp IN (1, 2)",
    "creation_timestamp LIKE 5",
    "creation_timestamp != 0",
    "last_updated_timestamp >= 0",
    "attributes.last_updated_timestamp > 0",
    "attributes.model_type = 'sklearn'",
    "attributes.status = 2",
    "attributes.status = 'READY'",
    "model_type = 'SKLEARN'",
    "model_type != 'sklearn'",
    "model_type LIKE 'sk%'",
    "model_type IN ('sklearn')",
    "model_id LIKE 'm-%'",
    "model_id != 'x'",
    "source_run_id = ''",
    "source_run_id != 'x'",
    "source_run_id LIKE '%'",
    "status = 1",
    "status = 3",
    "status = 0",
    "status = '2'",
    "status != 2",
    "status IN (2)",
    "status IN (1, 3)",
    "status NOT IN (2)",
    "status = 'PENDING'",
    "status = 'LOGGED_MODEL_PENDING'",
    "status = 'LOGGED_MODEL_UPLOAD_FAILED'",
    "status = 'UNSPECIFIED'",
    "status = 'ready'",
    "status IN ('READY', 'PENDING')",
    "status NOT IN ('READY')",
    "status != 'BOGUS'",
    "status IN ('READY', 'BOGUS')",
    'status = "READY"',
    "status ILIKE 'r%'",
    "status >= 2",
    "STATUS = 'READY'",
    "deleted = 'x'",
    "lifecycle_stage = 'active'",
    "creator_id = 1",
    "status_message = 'x'",
    "name = 'a' -- comment",
    "name = 'a' AND (params.x = 'a')",
    "name = 'a'  AND  name = 'a'",
    "name = 'a' AnD name = 'a'",
    "name = 'a' ANDname = 'a'",
    "name = 'a' AND 1",
    # keys that collide with SQL words or odd characters (all tags exist on model a)
    "tags.`in` = 'x'",
    "tags.or = 'x'",
    "tags.not = 'x'",
    "tags.is = 'x'",
    "tags.null = 'x'",
    "tags.like = 'x'",
    "tags.select = 'x'",
    "tags.a$b = 'x'",
    "tags.`a$b` = 'x'",
    "tags.1a = 'x'",
    "tags.`1a` = 'x'",
    "tags.u ILIKE 'äpfel'",
    "tags.u ILIKE 'ÄPFEL'",
    "tags.u LIKE 'Äpfel'",
    "tags.u LIKE 'äpfel'",
    # other columns of the logged_models table
    "artifact_location LIKE '%'",
    "creation_timestamp_ms > 0",
    "last_updated_timestamp_ms > 0",
    "experiment_id = 'nonexistent'",
    # placeholders: {EXP} experiment id, {MID_A} model a's id, {RUN} the run id
    "experiment_id = '{EXP}'",
    "experiment_id = {EXP}",
    "model_id = '{MID_A}'",
    "model_id IN ('{MID_A}', 'x')",
    "source_run_id = '{RUN}'",
]


class Client:
    def __init__(self, base: str, timeout: float = 60.0):
        self.base = base.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, body=None):
        """Return (http_status, parsed JSON or None, raw text)."""
        url = f"{self.base}/api/2.0/mlflow/{path}"
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, raw = resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read().decode("utf-8", "replace")
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except ValueError:
            parsed = None
        return status, parsed, raw

    def ok(self, method: str, path: str, body=None):
        status, parsed, raw = self.call(method, path, body)
        if status != 200 or parsed is None:
            raise SystemExit(f"{method} {path} failed: HTTP {status}: {raw[:300]}")
        return parsed

    def version(self) -> str:
        try:
            with urllib.request.urlopen(f"{self.base}/version", timeout=self.timeout) as r:
                return r.read().decode().strip()
        except Exception as e:  # diagnostic only
            return f"? ({e})"


def setup(c: Client) -> tuple[str, dict]:
    exp_name = f"lmfilter-probe-{time.time_ns()}"
    exp_id = c.ok("POST", "experiments/create", {"name": exp_name})["experiment_id"]
    run = c.ok("POST", "runs/create", {"experiment_id": exp_id, "start_time": int(time.time() * 1000)})
    run_id = run["run"]["info"]["run_id"]
    ids = {}
    for i, m in enumerate(FIXTURE):
        body = {
            "experiment_id": exp_id,
            "name": m["name"],
            "params": [{"key": k, "value": v} for k, v in m["params"].items()],
            "tags": [{"key": k, "value": v} for k, v in m["tags"].items()],
        }
        if m.get("model_type"):
            body["model_type"] = m["model_type"]
        if i == 0:
            body["source_run_id"] = run_id
        model = c.ok("POST", "logged-models", body)["model"]
        mid = model["info"]["model_id"]
        ids[m["name"]] = mid
        if m["status"]:
            c.ok("PATCH", f"logged-models/{mid}", {"model_id": mid, "status": m["status"]})
        if m["acc"] is not None:
            c.ok(
                "POST",
                "runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [
                        {
                            "key": "acc",
                            "value": m["acc"],
                            "timestamp": 1000 + i,
                            "step": 0,
                            "model_id": mid,
                        }
                    ],
                },
            )
    return exp_id, ids, run_id


def search(c: Client, exp_id: str, flt, subst: dict | None = None) -> dict:
    body = {"experiment_ids": [exp_id], "max_results": 100}
    if flt is not NO_FILTER:
        body["filter"] = flt
        for k, v in (subst or {}).items():
            body["filter"] = body["filter"].replace("{" + k + "}", v)
    status, parsed, raw = c.call("POST", "logged-models/search", body)
    row = {"filter": "<NO FILTER>" if flt is NO_FILTER else flt, "status": status}
    if status == 200 and parsed is not None:
        models = parsed.get("models", [])
        row["count"] = len(models)
        row["names"] = sorted(m["info"].get("name", "?") for m in models)
        row["error_code"] = ""
        row["message"] = ""
    else:
        row["count"] = None
        row["names"] = []
        if parsed is not None and isinstance(parsed, dict):
            row["error_code"] = parsed.get("error_code", "")
            row["message"] = str(parsed.get("message", ""))
        else:
            row["error_code"] = "(non-JSON)"
            row["message"] = " ".join(raw.split())
    return row


def extra_checks(c: Client) -> list[str]:
    """Metric semantics (any row vs latest row), NaN/inf storage, status of a model never finalized."""
    out = []
    exp_id = c.ok("POST", "experiments/create", {"name": f"lmfilter-probe-x-{time.time_ns()}"})[
        "experiment_id"
    ]
    run_id = c.ok("POST", "runs/create", {"experiment_id": exp_id})["run"]["info"]["run_id"]
    mid = c.ok("POST", "logged-models", {"experiment_id": exp_id, "name": "m"})["model"]["info"]["model_id"]
    # two rows of acc: step 0 = 0.9 (older), step 1 = 0.1 (latest); n = NaN, i = +inf, j = -inf
    metrics = [
        {"key": "acc", "value": 0.9, "timestamp": 1000, "step": 0, "model_id": mid},
        {"key": "acc", "value": 0.1, "timestamp": 2000, "step": 1, "model_id": mid},
        {"key": "n", "value": "NaN", "timestamp": 1000, "step": 0, "model_id": mid},
        {"key": "i", "value": "Infinity", "timestamp": 1000, "step": 0, "model_id": mid},
        {"key": "j", "value": "-Infinity", "timestamp": 1000, "step": 0, "model_id": mid},
    ]
    st, parsed, raw = c.call("POST", "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    out.append(f"log-batch acc(0.9@step0, 0.1@step1), n=NaN, i=+inf, j=-inf: HTTP {st} {raw.strip()[:150]}")
    st, parsed, raw = c.call("GET", f"logged-models/{mid}")
    if parsed:
        got = [
            (m["key"], m.get("value"), m.get("step", 0))
            for m in parsed["model"].get("data", {}).get("metrics", [])
        ]
        out.append(f"stored metrics on GET: {sorted(got, key=str)}")
        out.append(
            f"status of a created, never finalized model: {parsed['model']['info'].get('status')}; "
            f"source_run_id={parsed['model']['info'].get('source_run_id')!r} "
            f"model_type={parsed['model']['info'].get('model_type')!r}"
        )
    for f in [
        "metrics.acc > 0.5",
        "metrics.acc < 0.5",
        "metrics.acc > 0.5 AND metrics.acc < 0.2",
        "metrics.acc = 0.9",
        "metrics.n = 0",
        "metrics.n > nan",
        "metrics.n = nan",
        "metrics.i > 1e308",
        "metrics.i = inf",
        "metrics.j < -1e308",
        "status = 1",
        "status = 'PENDING'",
    ]:
        r = search(c, exp_id, f)
        res = (
            f"{r['count']} model(s)"
            if r["status"] == 200
            else f"{r['status']} {r['error_code']} {r['message'][:100]}"
        )
        out.append(f"{f} | {res}")
    return out


def fmt_filter(f: str) -> str:
    if f == "":
        return "<EMPTY>"
    if f.strip() == "" or "\n" in f or "\t" in f:
        return repr(f)
    return f


def read_filters(path: str) -> list:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line == "<EMPTY>":
                out.append("")
            elif line == "<NO FILTER>":
                out.append(NO_FILTER)
            else:
                out.append(line)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base_url")
    ap.add_argument("--json", help="write raw results to this file")
    ap.add_argument("--filters", help="file with one filter per line instead of the built-in list")
    args = ap.parse_args(argv)

    c = Client(args.base_url)
    filters = read_filters(args.filters) if args.filters else FILTERS
    exp_id, ids, run_id = setup(c)
    subst = {"EXP": exp_id, "MID_A": ids["a"], "RUN": run_id}
    version = c.version()
    print(f"# server {c.base} version {version}, experiment {exp_id}")
    print(
        "# fixture: a=READY model_type=sklearn params{x:a,a.b,`a b`,`a:b`,`123`}"
        " tags{t:z,in,and,a-b,a/b,é} acc=0.9 source_run_id=RUN;"
        " b=PENDING params{x:b} tags{t:y} acc=0.3; c=UPLOAD_FAILED params{x:it's,y:a'b}, no metric"
    )
    print("filter | HTTP | error_code | message[:150] | n | names")
    rows = []
    for f in filters:
        r = search(c, exp_id, f, subst)
        rows.append(r)
        msg = " ".join(r["message"].split())[:150]
        n = "" if r["count"] is None else str(r["count"])
        names = ",".join(r["names"])
        print(f"{fmt_filter(r['filter'])} | {r['status']} | {r['error_code']} | {msg} | {n} | {names}")
    extra = extra_checks(c)
    print("\n# extra checks (fresh experiment each)")
    for line in extra:
        print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(
                {"version": version, "experiment_id": exp_id, "model_ids": ids, "rows": rows, "extra": extra},
                fh,
                ensure_ascii=False,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
