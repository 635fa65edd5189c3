"""An hf alias, ``hf:ALIAS`` and the hub id the alias names are one model (``VLMSpec.canonical``):
filed under the alias, so a second run under another spelling asks nothing, and answers a store
holds under another of its spellings are taken over rather than asked again.

The hub cannot be reached here: the alias's hub id is served from an offline hub cache holding a
tiny checkpoint of SmolVLM's architecture (Idefics3), laid out as ``huggingface-cli download``
leaves it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from cvb.identity import label_of, stored_label
from cvb.plugins import get_registry
from test_identity_store import _cvb, _make_old, _run, _vlms

ALIAS, HUB_ID = "smolvlm-256m", "HuggingFaceTB/SmolVLM-256M-Instruct"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def hub(tmp_path_factory, tiny_vlm_dirs) -> Path:
    """An offline hub cache whose ``HUB_ID`` is a tiny Idefics3 checkpoint."""
    cache = tmp_path_factory.mktemp("alias") / "hub"
    repo = cache / f"models--{HUB_ID.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copytree(tiny_vlm_dirs["idefics3"], repo / "snapshots" / COMMIT)
    return cache


@pytest.fixture
def offline(hub, monkeypatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    return hub


def test_every_spelling_of_an_alias_is_filed_under_the_alias(tmp_path, monkeypatch):
    registry = get_registry()
    monkeypatch.chdir(tmp_path)
    for ref in (ALIAS, f"hf:{ALIAS}", "hf:SmolVLM-256M", f"hf:{HUB_ID}"):
        spec = registry.spec("vlm", ref.partition(":")[0])
        assert label_of(spec, ref, {"mode": "logits", "prefetch": "on"}) == f"{ALIAS}[mode=logits]", ref
    hf = registry.spec("vlm", "hf")
    assert label_of(hf, "hf:Qwen/Not-An-Alias", {}) == "hf:Qwen/Not-An-Alias"  # a hub id no alias names
    (tmp_path / ALIAS).mkdir()  # a local folder of that name is that folder, as hf:ALIAS loads it
    assert label_of(hf, f"hf:{ALIAS}", {}) == f"hf:{(tmp_path / ALIAS).resolve()}"
    # cvb report --vlm: the hub id finds the answers the alias holds
    read = lambda typed: label_of(registry.spec("vlm", typed.partition(":")[0]), typed, {})
    assert stored_label(f"hf:{HUB_ID}", [ALIAS, "hf:Qwen/X"], read) == ALIAS


@pytest.mark.slow  # a tiny checkpoint answers, in fresh processes
def test_a_second_spelling_of_an_alias_asks_nothing(offline, tmp_path):
    store = tmp_path / "r.sqlite"
    first = _run(tmp_path, store, "--vlm", f"hf:{HUB_ID}")
    assert first["work"]["predictions"] == 2
    assert [v["label"] for v in first["matrix"]["vlms"]] == [ALIAS]
    for again in (ALIAS, f"hf:{ALIAS}"):
        same = _run(tmp_path, store, "--vlm", again)
        assert same["work"]["predictions"] == 0 and same["work"]["models_loaded"] == [], (again, same["work"])
        assert [c["score"] for c in same["cells"]] == [c["score"] for c in first["cells"]]
    assert _vlms(store) == {ALIAS}
    report = json.loads(_cvb("report", "--store", store, "--vlm", f"hf:{HUB_ID}", "--format", "json",
                             "--resamples", "0", "-q", cwd=tmp_path))
    assert {s["vlm"] for s in report["sections"]} == {ALIAS}


@pytest.mark.slow  # a tiny checkpoint answers, in fresh processes
def test_answers_filed_under_the_hub_id_by_an_older_cvb_are_taken_over(offline, tmp_path):
    """A store of 2026-12-07 filed ``hf:HUB_ID`` and ``hf:ALIAS`` apart from ``ALIAS``: a run
    under any spelling files their answers under the alias and asks none of them again."""
    store = tmp_path / "old.sqlite"
    first = _run(tmp_path, store, "--vlm", ALIAS)
    assert first["work"]["predictions"] == 2
    _make_old(store, {ALIAS: f"hf:{HUB_ID}"})
    with sqlite3.connect(store) as db:  # one answer as that cvb filed `hf:ALIAS`'s
        db.execute("UPDATE predictions SET vlm=? WHERE rowid=(SELECT MIN(rowid) FROM predictions)", (f"hf:{ALIAS}",))
    assert _vlms(store) == {f"hf:{HUB_ID}", f"hf:{ALIAS}"}
    again = _run(tmp_path, store, "--vlm", f"hf:{ALIAS}")
    assert again["work"]["predictions"] == 0 and again["work"]["models_loaded"] == [], again["work"]
    assert _vlms(store) == {ALIAS}
    assert [c["score"] for c in again["cells"]] == [c["score"] for c in first["cells"]]
