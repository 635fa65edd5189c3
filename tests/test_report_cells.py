"""One cells table: ``cvb export --what cells`` and the report's cells.csv / .jsonl / .parquet
are the same table, its columns are the ones docs/report.md documents, and its numbers load as
numbers (no text level, no 24 bpp uncompressed point)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path


from cvb.report.cells_table import COLUMNS, NAMES

from test_report_verdict import clustered, cvb  # noqa: F401 - `clustered`: the store fixture
from hang_guard import HANG_S

DOC = Path(__file__).resolve().parents[1] / "docs" / "report.md"


def documented() -> list[tuple[str, str]]:
    text = DOC.read_text()
    block = text.split("<!-- cells-columns")[1].split("<!-- /cells-columns -->")[0]
    return re.findall(r"^\| `([^`]+)` \| (\w+) \|", block, flags=re.M)


def test_the_documented_columns_are_the_schema():
    doc = documented()
    assert [n for n, _ in doc] == NAMES + ["metric.NAME", "detail.NAME"]
    assert [k for _, k in doc[:len(NAMES)]] == [k for _, k, _ in COLUMNS]


def test_export_and_report_write_one_table_in_every_format(clustered, tmp_path):  # noqa: F811 - the `clustered` fixture imported above
    import pandas as pd
    import pyarrow.parquet as pq

    store, env, _ = clustered
    out = tmp_path / "rep"
    cvb(env, "report", "--store", str(store), "--resamples", "200", "--out", str(out), "--no-plots")
    exported = cvb(env, "export", "--store", str(store), "--what", "cells", "--resamples", "200").stdout
    assert exported == (out / "cells.csv").read_text()  # the same table, byte for byte
    cvb(env, "export", "--store", str(store), "--what", "cells", "--resamples", "200", "--format", "parquet",
        "--output", str(tmp_path / "c.parquet"))
    lines = cvb(env, "export", "--store", str(store), "--what", "cells", "--resamples", "200",
                "--format", "jsonl").stdout
    assert lines == (out / "cells.jsonl").read_text()
    assert pq.read_table(tmp_path / "c.parquet").to_pylist() == pq.read_table(out / "cells.parquet").to_pylist()

    header = next(csv.reader(exported.splitlines()))
    doc = [n for n, _ in documented()]
    fixed = [c for c in header if not c.startswith(("metric.", "detail."))]
    assert fixed == doc[:-2] and "metric.psnr" in header and "detail.questions" in header
    assert list(json.loads(lines.splitlines()[0])) == header  # same names in JSON as in CSV

    # numbers load as numbers; the uncompressed row plots nowhere
    df = pd.read_csv(out / "cells.csv")
    for col in ("level", "bpp", "score", "ci_low", "delta", "p", "delta_ci_low", "resamples", "seed"):
        assert pd.api.types.is_numeric_dtype(df[col]), col
    ref = df[df["uncompressed"]]
    assert len(ref) == 1 and ref["level"].isna().all() and ref["bpp"].isna().all()
    assert ref["level_label"].tolist() == ["none"] and df["bpp"].max() < 24
    assert set(df.loc[~df["uncompressed"], "level"]) == {1, 95}
    assert set(df["protocol"]) == {"cvb"} and df["judge_model"].isna().all()
    assert set(df.loc[~df["uncompressed"], "method"]) == {"cluster bootstrap"}
    pf = pq.read_table(out / "cells.parquet")
    assert str(pf.schema.field("level").type) == "double" and str(pf.schema.field("significant").type) == "bool"
    assert str(pf.schema.field("judge_model").type) == "string"  # all null, still typed


def test_parquet_needs_a_file_and_other_tables_export_too(clustered, tmp_path):  # noqa: F811 - the `clustered` fixture imported above
    import subprocess

    import pyarrow.parquet as pq

    store, env, _ = clustered
    from test_report_verdict import CVB

    res = subprocess.run([CVB, "export", "--store", str(store), "--format", "parquet"], capture_output=True,
                         text=True, env=env, timeout=HANG_S)
    assert res.returncode == 2 and "--out FILE" in res.stderr
    cvb(env, "export", "--store", str(store), "--what", "runs", "--format", "parquet", "--output",
        str(tmp_path / "runs.parquet"))
    assert pq.read_table(tmp_path / "runs.parquet").num_rows == 1
