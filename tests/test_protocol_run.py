"""Protocols through ``cvb run``: the peer's prompt, budget and stop strings reach the model, the
score is the peer's aggregate of the stored answers, the protocol is part of the cell's identity,
and a scoring-only change rescores stored answers without asking the model again."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import VENV_BIN, make_plugin
from lmms_eval_oracle import load
from hang_guard import HANG_S

N = 6
sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))


def pope_copy(root):
    from cvb_fakes.pope_data import pope_layout

    return pope_layout(root, N // 2, 2)


def cvb(*args: str, timeout: int = 300) -> str:
    out = subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def rows(store, sql: str) -> list[tuple]:
    conn = sqlite3.connect(str(store))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_lmms_eval_protocol_end_to_end_with_a_real_model(tmp_path, tiny_vlm_dirs):
    data, store = pope_copy(tmp_path / "POPE"), tmp_path / "r.sqlite"
    base = ["run", "--task", f"pope:{data}", "--vlm", f"hf:{tiny_vlm_dirs['qwen2_5_vl']}", "--store", str(store),
            "--cache-dir", str(tmp_path / "cache"), "--metric", "none", "-q", "--json"]
    first = json.loads(cvb(*base, "-o", "task.protocol=lmms-eval"))
    assert first["work"]["predictions"] == N
    assert first["matrix"]["tasks"][0]["scoring"] == "lmms-eval 0.7.3"  # recorded in runs.options too
    task = f"pope:{data}"
    (cell,) = [c for c in first["cells"] if c["task"] == f"{task}[protocol=lmms-eval]"]

    # the score is lmms-eval's own aggregate of what the model said (its stop strings cut)
    texts = dict(rows(store, f"SELECT sample_id, text FROM predictions WHERE task='{task}'"))
    assert len(texts) == N and not any("\n\n" in t for t in texts.values())
    u = load("tasks.pope.utils")
    docs = [{"question_id": str(i), "answer": "yes" if i % 2 == 0 else "no"} for i in range(N)]
    results = [u.pope_process_results(d, [texts[f"random-{i}"].strip()])["pope_f1_score"] for i, d in enumerate(docs)]
    assert cell["score_metric"] == "pope_f1_score" and cell["score"] == u.pope_aggregate_f1_score(results)
    assert cell["details"]["pope_yes_ratio"] == u.pope_aggregate_yes_ratio(results)

    # same settings again: nothing asked; cvb's protocol asks with its own budget: asked again,
    # scored in a cell of its own beside the lmms-eval one
    assert json.loads(cvb(*base, "-o", "task.protocol=lmms-eval"))["work"]["predictions"] == 0
    again = json.loads(cvb(*base, "-o", "pope.protocol=cvb"))
    assert again["work"]["predictions"] == N
    cells = [json.loads(line) for line in cvb("export", "--store", str(store), "--format", "jsonl").splitlines()]
    assert {(c["task"], c["score_metric"]) for c in cells} == {(f"{task}[protocol=lmms-eval]", "pope_f1_score"),
                                                              (f"{task}[protocol=cvb]", "f1")}
    sections = json.loads(cvb("report", "--store", str(store), "--format", "json", "--resamples", "20"))["sections"]
    assert {(s["task"], s["score_metric"]) for s in sections} == {(f"{task}[protocol=lmms-eval]", "pope_f1_score"),
                                                                  (f"{task}[protocol=cvb]", "f1")}
    assert {(c["task"], c["protocol"]) for c in cells} == {(f"{task}[protocol=lmms-eval]", "lmms-eval"),
                                                           (f"{task}[protocol=cvb]", "cvb")}


def test_judge_rescoring_reuses_stored_answers(tmp_path, registry_of):
    """vlmevalkit without and with a judge: a scoring-only change, so the answering model is not
    asked again; the judge sees VLMEvalKit's matching prompt for the answers exact matching
    cannot read, and the judge is in the cell's label."""
    from click.testing import CliRunner

    from cvb.cli.main import cli
    from cvb.testing import scripted_vlm_spec
    from cvb_tasks import plugin as tasks_plugin

    asked: list[str] = []

    def answer(query):
        asked.append(query.sample_id)
        return ["Yes", "It looks like one to me", "No", "hard to say", "Yes.", "no"][int(query.sample_id[-1])]

    judged: list[str] = []

    def judge(query):
        assert query.image is None and "Yes / No" in query.prompt
        judged.append(query.prompt)
        return "Yes"

    vlms = make_plugin("protocol_vlms", register_vlms=lambda register: (
        register(scripted_vlm_spec("answerer", answer)), register(scripted_vlm_spec("judge", judge))))
    registry_of(tasks_plugin, vlms)
    data, store = pope_copy(tmp_path / "POPE"), tmp_path / "r.sqlite"
    base = ["run", "--task", f"pope:{data}", "--vlm", "answerer", "--store", str(store), "--cache-dir",
            str(tmp_path / "cache"), "--metric", "none", "-q", "--json", "-o", "task.protocol=vlmevalkit"]
    first = CliRunner().invoke(cli, base, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert len(asked) == N and not judged
    plain = json.loads(first.stdout)["cells"][0]
    # exact matching: 1 TP, 2 and 4 are Unknown (negatives), 3 TN... by hand:
    # truth yes,no,yes,no,yes,no; read Yes,Unknown,No,Unknown,Yes,No -> TP 2, FN 1, FP 0
    assert plain["score"] == pytest.approx(100 * 2 * (1.0 * (2 / 3)) / (1 + 2 / 3))

    def scored_as():
        out = CliRunner().invoke(cli, ["export", "--store", str(store), "--what", "predictions"],
                                 catch_exceptions=False)
        return {(r["sample_id"], r["judge"], r["scored_as"]) for r in csv.DictReader(io.StringIO(out.stdout))}

    verdicts = ["1.0", "0.0", "0.0", "0.0", "1.0", "1.0"]  # Yes, Unknown, No (truth yes), Unknown, Yes., no
    assert scored_as() == {(f"random-{i}", v, f"pope:{data}[protocol=vlmevalkit]") for i, v in enumerate(verdicts)}
    second = CliRunner().invoke(cli, [*base, "-o", "task.judge=judge"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert len(asked) == N  # the answering model was not asked again
    assert len(judged) == 2  # the two Unknowns
    # the per-sample verdicts say they are the judged cell's now (same answers, rescored)
    assert scored_as() == {(f"random-{i}", v, f"pope:{data}[judge=judge,protocol=vlmevalkit]")
                           for i, v in enumerate(verdicts)}
    cell = json.loads(second.stdout)["cells"][0]
    assert cell["task"] == f"pope:{data}[judge=judge,protocol=vlmevalkit]" and cell["details"]["judged"] == 2
    assert plain["details"]["judged"] == 0
    # the judge reads both Unknowns as Yes: truth no for 1 and 3 -> TP 2, FP 2, FN 1
    assert cell["score"] == pytest.approx(100 * 2 * (0.5 * (2 / 3)) / (0.5 + 2 / 3))
    # the report's statistics rescore each protocol's cell from the stored answers (stored
    # under the label without protocol and judge): a real interval, not one of empty answers
    report = CliRunner().invoke(cli, ["report", "--store", str(store), "--format", "json", "--resamples", "200"],
                                catch_exceptions=False)
    assert report.exit_code == 0, report.output
    for section in json.loads(report.stdout)["sections"]:
        low, high = section["reference"]["ci"]
        assert low <= section["reference"]["score"] <= high and high > 0, section["task"]

    # the judge's replies are in the store: the report rescored the judged cell (a fresh task,
    # a fresh judge) without asking it; a second report and a rescoring run neither
    assert len(judged) == 2
    kept = rows(store, "SELECT judge, prediction, reply, run_id FROM judge_replies ORDER BY prediction")
    assert [(j, p, r) for j, p, r, _ in kept] == [("judge", "It looks like one to me", "Yes"),
                                                  ("judge", "hard to say", "Yes")]
    assert all(run_id is not None for *_, run_id in kept)

    again = CliRunner().invoke(cli, ["report", "--store", str(store), "--format", "json", "--resamples", "20"],
                               catch_exceptions=False)
    assert again.exit_code == 0, again.output
    conn = sqlite3.connect(str(store))
    conn.execute("DELETE FROM cells")  # the cells gone: the next run rescores every one
    conn.commit()
    conn.close()
    third = CliRunner().invoke(cli, [*base, "-o", "task.judge=judge"], catch_exceptions=False)
    assert third.exit_code == 0, third.output
    assert json.loads(third.stdout)["cells"][0]["score"] == cell["score"]
    assert len(asked) == N and len(judged) == 2

    # every cell names its protocol and judge, the default one included (a bare label: cvb)
    plain_run = CliRunner().invoke(cli, [*base[:-2]], catch_exceptions=False)
    assert plain_run.exit_code == 0, plain_run.output
    export = CliRunner().invoke(cli, ["export", "--store", str(store)], catch_exceptions=False)
    table = {r["task"]: (r["protocol"], r["judge_model"]) for r in csv.DictReader(io.StringIO(export.stdout))}
    assert table == {f"pope:{data}": ("cvb", ""),  # (the unjudged vlmevalkit cell was deleted above)
                     f"pope:{data}[judge=judge,protocol=vlmevalkit]": ("vlmevalkit", "judge")}
    shown = CliRunner().invoke(cli, ["report", "--store", str(store), "--format", "json", "--resamples", "0"],
                               catch_exceptions=False)
    assert {s["task"]: (s["protocol"], s["judge"]) for s in json.loads(shown.stdout)["sections"]} == {
        t: (p, j or None) for t, (p, j) in table.items()}
    md = CliRunner().invoke(cli, ["report", "--store", str(store), "--format", "markdown", "--resamples", "0"],
                            catch_exceptions=False)
    assert f"pope:{data} x answerer (protocol cvb)" in md.stdout
    assert "(protocol vlmevalkit, judge judge)" in md.stdout


def test_judge_replies_persist_through_the_cli(tmp_path):
    """Through the real ``cvb`` in fresh processes, with an ``openai:`` answerer and judge on a
    local chat-completions server: the run asks the judge once per unreadable answer; a report
    and a rescoring run (cells deleted) ask nobody again."""
    from test_openai_vlm import FakeServer, reply, req_text

    texts = ["Yes", "It looks like one to me", "No", "hard to say", "Yes.", "no"]

    def behave(req, seen):
        if req["model"] == "judge":
            return 200, {}, reply("Yes")
        question = req_text(req)
        return 200, {}, reply(texts[int(question.split("thing ")[1].split()[0])])

    data, store = pope_copy(tmp_path / "POPE"), tmp_path / "r.sqlite"
    with FakeServer(behave) as srv:
        env = {**os.environ, "OPENAI_BASE_URL": srv.url}
        base = ["run", "--task", f"pope:{data}", "--vlm", "openai:answerer", "--store", str(store),
                "--cache-dir", str(tmp_path / "cache"), "--metric", "none", "-q", "--json",
                "-o", "task.protocol=vlmevalkit", "-o", "task.judge=openai:judge"]

        def calls(model):
            return sum(r["json"]["model"] == model for r in srv.requests)

        first = json.loads(cvb_env(env, *base))
        assert calls("answerer") == N and calls("judge") == 2
        assert first["cells"][0]["details"]["judged"] == 2
        cvb_env(env, "report", "--store", str(store), "--format", "json", "--resamples", "20")
        conn = sqlite3.connect(str(store))
        conn.execute("DELETE FROM cells")
        conn.commit()
        conn.close()
        again = json.loads(cvb_env(env, *base))
        assert again["cells"][0]["score"] == first["cells"][0]["score"]
        assert calls("answerer") == N and calls("judge") == 2
    versions = rows(store, "SELECT DISTINCT judge, judge_version FROM judge_replies")
    assert versions == [("openai:judge", f"openai:judge@{srv.url}")]


def cvb_env(env, *args: str) -> str:
    out = subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, timeout=HANG_S, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout
