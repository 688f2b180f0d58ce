"""Spark's throughput over the store's Parquet export, per core, against DuckDB's on the same files.

Run: .venv/bin/python benchmarks/spark_throughput.py [N] [--runs R] [--cache DIR] [--cores 1,2]
     (N synthetic models, default 1000000; R timed runs per case after one to warm up, default 3; --cache
     keeps the JSON-lines file and the Parquet export for the next run, the file shared with select_memory.py)

The models come from benchmarks/synthetic.py (three rows per metric), loaded into a :class:`ModelStore` and
written by ``to_parquet``: four Parquet files, MLflow's layout. Each case is a 2-4 condition filter of
filter_speed.CASES, some with ``datasets`` and ``order_by``, for the first 100 models (the page a search
returns), which still reads and orders every model:

- **Spark local[k]**: ``lmfilter.spark.select(spark, ..., tables=<the export>)`` on a local SparkSession of
  k cores (k of ``--cores``; Spark's defaults otherwise, driver memory 8 GB): the Parquet files read where
  they lie, as on a cluster; the median of R runs after a first.
- **DuckDB threads=k**: the same statement, ``to_sql(dialect="duckdb")``, over views of the same files
  (``read_parquet``), on a connection of k threads; the median of R runs after a first.

Printed per case: seconds, models per second per core (N / seconds / k), and DuckDB's per-core rate over
Spark's; ``same`` checks that every engine returns the same ids in the same order. Then the Spark SQL text of
the last case over ``main.mlflow.*`` (``lmfilter.spark.spark_sql``): what runs in Databricks SQL or a notebook
over Delta tables of that layout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(Path(__file__).parent)]

from filter_speed import CASES  # noqa: E402
from select_memory import _directory, write_models  # noqa: E402

import lmfilter.spark  # noqa: E402
from lmfilter.sql import ModelStore, to_sql  # noqa: E402
from lmfilter.sql.tables import TABLES  # noqa: E402

JSON = dict[str, Any]
PAGE = 100
CHOSEN: tuple[str, ...] = (  # 2-4 conditions, with datasets and order_by
    "2 conditions",
    "3 conditions",
    "4 conditions",
    "2 + datasets",
    "2 + order_by name",
    "4 + datasets + order_by metric",
)
Case = tuple[str, str, list[JSON] | None, list[JSON] | None]


def export(folder: Path, n: int) -> Path:
    """The Parquet export of N synthetic models, made once per cache directory."""
    parquet = folder / f"parquet-{n}"
    if all((parquet / f"{table}.parquet").is_file() for table in TABLES):
        return parquet
    lines = folder / f"models-{n}.jsonl"
    if not lines.exists():
        write_models(lines, n)
    started = time.perf_counter()
    with ModelStore(folder / f"store-{n}.duckdb") as store:
        if len(store) != n:
            store.add(lines)
        store.to_parquet(parquet)
    (folder / f"store-{n}.duckdb").unlink()
    print(f"exported {n:,} models to {parquet} in {time.perf_counter() - started:.0f} s")
    return parquet


def median_of(run: Callable[[], list[str]], runs: int) -> tuple[float, list[str]]:
    """The median seconds of ``runs`` runs after a first (which warms caches and the JIT), and the answer."""
    found = run()
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        found = run()
        took.append(time.perf_counter() - started)
    return statistics.median(took), found


@contextmanager
def spark_session(cores: int) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(f"lmfilter-throughput-{cores}")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "8g")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")  # the address blocks are fetched at, not the LAN's
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def duckdb_runner(parquet: Path, threads: int) -> Callable[[str], list[str]]:
    import duckdb

    con = duckdb.connect(":memory:", config={"threads": threads})
    for table in TABLES:
        path = str(parquet / f"{table}.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")

    def run(sql: str) -> list[str]:
        return [row[0] for row in con.execute(sql).fetchall()]

    return run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--cores", default="1,2")
    args = parser.parse_args(argv)
    cores = [int(k) for k in args.cores.split(",")]
    cases: list[Case] = [case for case in CASES if case[0] in CHOSEN]
    n = args.n
    print(f"{n:,} models; {os.cpu_count()} cores here; first {PAGE} of each search; median of {args.runs}")
    with _directory(args.cache) as folder:
        parquet = export(folder, n)
        size = sum((parquet / f"{table}.parquet").stat().st_size for table in TABLES)
        print(f"Parquet export: {size / 1e6:,.0f} MB")
        answers: dict[tuple[str, str], tuple[float, list[str]]] = {}
        for k in cores:
            run = duckdb_runner(parquet, k)
            for name, text, datasets, order_by in cases:
                sql = to_sql(text, datasets=datasets, order_by=order_by, dialect="duckdb", max_results=PAGE)
                answers[(name, f"duckdb {k}")] = median_of(partial(run, sql), args.runs)
                print(f"  duckdb {k}: {name}: {answers[(name, f'duckdb {k}')][0]:.2f} s", flush=True)
        for k in cores:
            with spark_session(k) as spark:
                for name, text, datasets, order_by in cases:

                    def search(
                        text: str = text, datasets: Any = datasets, order_by: Any = order_by
                    ) -> list[str]:
                        return lmfilter.spark.select(
                            spark,
                            text,
                            datasets=datasets,
                            order_by=order_by,
                            max_results=PAGE,
                            tables=parquet,
                        )

                    answers[(name, f"spark {k}")] = median_of(search, args.runs)
                    print(f"  spark {k}: {name}: {answers[(name, f'spark {k}')][0]:.2f} s", flush=True)
        engines = [f"spark {k}" for k in cores] + [f"duckdb {k}" for k in cores]
        header = f"{'case':<32}" + "".join(f"{e + ' s':>11}{'rows/s/core':>13}" for e in engines)
        print()
        print(header + f"{'duckdb/spark per core':>24}  same")
        for name, *_ in cases:
            line = f"{name:<32}"
            for engine in engines:
                took, _ = answers[(name, engine)]
                k = int(engine.split()[1])
                line += f"{took:>11.2f}{n / took / k:>13,.0f}"
            ratios = []
            for k in cores:
                spark_rate = n / answers[(name, f"spark {k}")][0] / k
                duck_rate = n / answers[(name, f"duckdb {k}")][0] / k
                ratios.append(f"{duck_rate / spark_rate:.1f}x@{k}")
            same = len({tuple(answers[(name, engine)][1]) for engine in engines}) == 1
            print(line + f"{' '.join(ratios):>24}  {'yes' if same else 'NO'}")
        name, text, datasets, order_by = cases[-1]
        tables = {table: f"main.mlflow.{table}" for table in TABLES}
        print(f"\nThe Spark SQL of '{name}' over Delta tables main.mlflow.* (Databricks SQL, a notebook):\n")
        print(
            lmfilter.spark.spark_sql(
                text, datasets=datasets, order_by=order_by, max_results=PAGE, tables=tables
            )
        )


if __name__ == "__main__":
    main()
