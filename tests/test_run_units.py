"""Pieces of ``cvb run`` on their own: cache keys and files, option parsing, labels, the
worker initializer's registry, batch fallback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import CALLS, build_registry, make_images
from cvb_fakes.harness import use_fakes

from cvb.errors import UsageError
from cvb.identity import label_of
from cvb.run import compress_units
from cvb.run.compress_units import ImageJob, LevelWork
from cvb.run.image_cache import ImageCache, cache_key, params_json
from cvb.options import coerce, options_for, parse_options
from cvb.run.plan import RunRequest, VLMPlan, build_plan
from cvb.run.vlm_session import VLMSession
from cvb.specs import Option, TaskSpec, VLMSpec
from cvb.types import Answer, AnswerKind, ImageSource, Query


def test_cache_key_changes_with_every_part():
    base = ("h" * 64, "jpeg", "1", "5", params_json({"subsampling": 2}))
    keys = {cache_key(*base)}
    for i, other in enumerate(["g" * 64, "webp", "2", "6", params_json({"subsampling": 0})]):
        keys.add(cache_key(*base[:i], other, *base[i + 1:]))
    assert len(keys) == 6
    assert params_json({"b": 1, "a": 2}) == params_json({"a": 2, "b": 1})  # order-free


def test_cache_entry_is_whole_or_absent(tmp_path):
    from PIL import Image

    cache = ImageCache(tmp_path)
    key = "ab" + "0" * 62
    assert not cache.has(key) and cache.image(key) is None and cache.info(key) is None
    image = Image.new("RGB", (8, 4), (10, 20, 30))
    cache.put(key, b"bits", image, {"num_bytes": 4, "bpp": 1.0, "encode_s": 0.0, "decode_s": 0.0})
    assert cache.has(key) and cache.bits(key) == b"bits" and cache.info(key)["bpp"] == 1.0
    assert cache.image(key).getpixel((0, 0)) == (10, 20, 30)
    assert [p.name for p in (tmp_path / "ab").iterdir()] == [f"{key}.cvbc"]  # one file per entry
    path = tmp_path / "ab" / f"{key}.cvbc"
    path.write_bytes(path.read_bytes()[:-5])  # damaged by hand
    assert cache.image(key) is None  # read as missing: the runner redoes it


def test_options_and_labels():
    assert [coerce(v) for v in ("3", "0.5", "true", "cuda:0", "[1]")] == [3, 0.5, True, "cuda:0", "[1]"]
    opts = parse_options(["vlm.max_new_tokens=16", "codec.quality_mode=fast", "task.split=val"])
    assert opts["vlm"] == {"max_new_tokens": 16} and opts["task"] == {"split": "val"}
    with pytest.raises(UsageError, match="CATEGORY.KEY=VALUE"):
        parse_options(["max_new_tokens=16"])
    hf = VLMSpec("hf", "x:y")
    assert label_of(hf, "hf:Qwen/X", {"mode": "logits", "batch_size": 8, "device": "cuda"}) == "hf:Qwen/X[mode=logits]"
    assert label_of(TaskSpec("pope", "x:y"), "pope", {}) == "pope"
    named = parse_options(["vlm.max_new_tokens=16", "qwen2.5-vl-3b.max_new_tokens=8"])
    assert options_for(named, "vlm", "qwen2.5-vl-3b") == {"max_new_tokens": 8}
    assert options_for(named, "vlm", "hf:Other/Model") == {"max_new_tokens": 16}


def test_named_options_reach_only_their_component(tmp_path, monkeypatch):
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 1)
    import cvb.plugins

    registry = cvb.plugins.get_registry()
    plan = build_plan(RunRequest(vlms=["scripted"], tasks=[f"toy:{images}"], codecs=["fake"], levels=["2"],
                                 metrics=["mse"], options=["scripted.raise_on=zzz"]), registry)
    assert plan.vlms[0].options == {"raise_on": "zzz"}
    with pytest.raises(UsageError, match="names no component of this run"):
        build_plan(RunRequest(vlms=["scripted"], tasks=[f"toy:{images}"], codecs=["fake"], levels=["2"],
                              metrics=["mse"], options=["jpeg.quality=3"]), registry)


def test_listed_but_missing_image_is_a_failed_image_not_a_crash(tmp_path, monkeypatch):
    from cvb.run.plan import _plan_task
    from cvb.types import AnswerKind, ImageSource, Sample

    class OneMissing:
        name, version = "missing", "1"

        def samples(self, limit=None):
            return [Sample("s1", ImageSource("gone", path=str(tmp_path / "gone.png")), "q?", AnswerKind.YESNO, "yes")]

    from cvb.specs import TaskSpec

    registry = type("R", (), {"create": lambda self, c, ref, **o: OneMissing(),
                              "spec": lambda self, c, name: TaskSpec(name, OneMissing)})()
    plan = _plan_task("missing", registry, {}, None)
    assert plan.images["gone"].content_hash is None
    assert "cannot read image" in plan.images["gone"].error and "gone.png" in plan.images["gone"].error


def test_plan_validates_and_groups_samples_by_image(tmp_path, monkeypatch):
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 3)
    import cvb.plugins

    plan = build_plan(RunRequest(vlms=["scripted"], tasks=[f"toy:{images}"], codecs=["fake,none"],
                                 levels=["6,2"], metrics=["mse"]), cvb.plugins.get_registry())
    assert [(c.name, c.levels) for c in plan.codecs] == [("none", ["-"]), ("fake", ["2", "6"])]
    t = plan.tasks[0]
    assert len(t.samples) == 6 and len(t.images) == 3
    keys = [t.samples[i].image.key for i in t.samples.order()]
    assert keys == sorted(keys)  # each image's questions together
    assert all(im.content_hash and im.num_bytes for im in t.images.values())
    assert plan.codecs[0].key("h", "-") == "h" and plan.codecs[1].key("h", "2") != plan.codecs[1].key("h", "6")


def test_worker_initializer_rebuilds_the_parents_registry(tmp_path, monkeypatch):
    """What a spawned worker does: register the parent's plugin modules, then run a unit."""
    import cvb.plugins

    monkeypatch.setattr(cvb.plugins, "_REGISTRY", None)
    monkeypatch.setattr(compress_units, "_WORKSHOP", None)
    monkeypatch.setattr("signal.signal", lambda *a: None)
    monkeypatch.setattr("cvb.threads.limit_threads", lambda n: None)  # not this test process's threads
    parent = build_registry()
    plugins = [(i.name, i.distribution, i.version, i.value) for i in parent.plugins.values()]
    compress_units._init_worker(plugins, {("metric", "mse"): {}}, str(tmp_path / "cache"))
    assert cvb.plugins._REGISTRY is not None and "fake" in cvb.plugins._REGISTRY.names("codec")
    path = make_images(tmp_path / "imgs", 1) / "img0000_smooth.png"
    job = ImageJob("h", ImageSource(key="a", path=str(path)), "fake",
                   (LevelWork("2", "k" * 64, True, ("mse",)),))
    out = compress_units._run_in_worker(job)
    assert out.image_error is None and out.levels[0].compressed and out.levels[0].metrics["mse"] > 0
    assert ImageCache(tmp_path / "cache").has("k" * 64)


def test_the_pool_runs_its_last_units_a_level_each(tmp_path, monkeypatch):
    """-j 2: the last units are cut into one unit per level, so no worker idles while another
    works through a whole unit at the end; every level comes back once, with the numbers one
    process gives. One unit of three levels still keeps two workers busy."""
    import cvb.plugins

    reg = build_registry()
    monkeypatch.setattr(cvb.plugins, "_REGISTRY", reg)
    folder = make_images(tmp_path / "imgs", 3)
    jobs = [ImageJob(f"h{i}", ImageSource(key=p.name, path=str(p)), "fake",
                     tuple(LevelWork(lv, f"{p.name}-{lv}", True, ("mse",)) for lv in ("2", "4", "8")))
            for i, p in enumerate(sorted(folder.glob("*.png")))]
    workshop = compress_units.Workshop(lambda category, name: reg.create(category, name), None)

    def numbers(outcomes) -> list:
        return sorted((lo.key, lo.num_bytes, lo.metrics["mse"]) for o in outcomes for lo in o.levels)

    one = list(compress_units.run_jobs(jobs, workshop, 1, reg, {}))
    two = list(compress_units.run_jobs(jobs, workshop, 2, reg, {}))
    assert [len(o.job.levels) for o in one] == [3, 3, 3]
    assert sorted(len(o.job.levels) for o in two) == [1, 1, 1, 1, 1, 1, 3]
    assert len(numbers(one)) == 9 and numbers(two) == numbers(one)
    alone = list(compress_units.run_jobs(jobs[:1], workshop, 2, reg, {}))
    assert [len(o.job.levels) for o in alone] == [1, 1, 1] and numbers(alone) == numbers(one[:1])


class _FlakyModel:
    name, version, batch_size = "flaky", "1", 4

    def __init__(self):
        self.calls = []

    def answer(self, queries):
        self.calls.append(len(queries))
        if any(q.sample_id == "bad" for q in queries):
            raise RuntimeError("out of memory")
        return [Answer(text=q.sample_id) for q in queries]


def test_a_batch_that_raises_is_retried_one_by_one():
    session = VLMSession(VLMPlan("flaky", "flaky", {}), None, None)
    session._model = model = _FlakyModel()
    queries = [Query(image=None, prompt="?", kind=AnswerKind.YESNO, sample_id=s) for s in ("a", "bad", "c")]
    answers = session.answer(queries)
    assert [a.text for a in answers] == ["a", "", "c"]
    assert answers[1].error == "RuntimeError: out of memory" and answers[0].error is None
    assert model.calls == [3, 1, 1, 1]


def test_no_codec_means_only_the_reference_cell(tmp_path, monkeypatch):
    from cvb_fakes.harness import cli

    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 2)
    result = cli(["run", "--task", f"toy:{images}", "--vlm", "scripted", "--store", str(tmp_path / "r.sqlite"),
                  "--cache-dir", str(tmp_path / "c"), "-q", "--metric", "none", "--json"])
    assert result.exit_code == 0, result.output
    assert '"codec": "none"' in result.stdout and '"codec": "fake"' not in result.stdout
    assert CALLS["encode"] == 0 and not (tmp_path / "c").exists()


class _BrokenModel:
    name, version, batch_size = "broken", "1", 4

    def answer(self, queries):
        raise OSError("weights file is truncated")


def test_a_model_that_never_answers_stops_the_run():
    from cvb.errors import CvbError

    session = VLMSession(VLMPlan("broken", "broken", {}), None, None)
    session._model = _BrokenModel()
    queries = [Query(image=None, prompt="?", sample_id=s) for s in ("a", "b")]
    with pytest.raises(CvbError, match="failed on every query of its first batch: OSError: weights"):
        session.answer(queries)


def test_speed_only_options_stay_out_of_labels():
    assert label_of(VLMSpec("reference", "x:y"), "reference", {"threads": 0}) == "reference"
    openai = VLMSpec("openai", "x:y", options={"timeout": Option("s", affects_results=False)})
    assert label_of(openai, "openai:gpt-4o", {"concurrency": 8, "timeout": 5}) == "openai:gpt-4o"


def _registry_of(task):
    from cvb.specs import TaskSpec

    return type("R", (), {"create": lambda self, c, ref, **o: task,
                          "spec": lambda self, c, name: TaskSpec(name, type(task))})()


class ManySamples:
    """``n`` samples on ``images`` images, yielded one at a time; ``dup`` repeats one id."""

    name, version = "many", "1"

    def __init__(self, path, n, images=7, dup=None):
        self.path, self.n, self.images, self.dup = path, n, images, dup
        self.calls = 0

    def samples(self, limit=None):
        from cvb.types import AnswerKind, ImageSource, Sample

        self.calls += 1
        for i in range(self.n if limit is None else min(limit, self.n)):
            sid = f"s{self.dup[0]}" if self.dup and i == self.dup[1] else f"s{i}"
            yield Sample(sid, ImageSource(f"im{i % self.images}", path=self.path), f"q{i % 3}?",
                         AnswerKind.YESNO, "yes", meta={"i": i})


def test_the_plan_spools_samples_instead_of_holding_them(tmp_path):
    """A task's samples are read once and kept on disk: none stays in memory after planning,
    reading them all back keeps at most a few pages, and order, ids hash and fingerprints are
    those of the task."""
    import gc
    import hashlib

    from cvb.run import sample_spool
    from cvb.run.plan import _plan_task, prompt_sha
    from cvb.types import Sample

    path = make_images(tmp_path / "imgs", 1) / "img0000_smooth.png"
    task = ManySamples(str(path), 20_000)
    plan = _plan_task("many", _registry_of(task), {}, None)
    t = plan.samples
    gc.collect()
    assert task.calls == 1 and len(t) == 20_000 and len(plan.images) == 7
    assert sum(type(o) is Sample for o in gc.get_objects()) == 0
    assert plan.ids_hash == hashlib.sha1("\n".join(f"s{i}" for i in range(20_000)).encode()).hexdigest()
    order = list(t.order())
    assert order[:3] == [0, 7, 14] and sorted(order) == list(range(20_000))  # each image's samples together
    seen = [t[i] for i in order]
    assert [s.meta["i"] for s in seen] == order and all(s.image.key == f"im{i % 7}" for s, i in zip(seen, order))
    content = plan.images["im5"].content_hash
    assert content == hashlib.sha256(path.read_bytes()).hexdigest()
    assert t.prompt_sha(5) == prompt_sha(t[5]) and t.lookup(["s5", "nope"]) == {"s5": (5, "im5", prompt_sha(t[5]),
                                                                                       content)}
    del seen
    gc.collect()
    assert sum(type(o) is Sample for o in gc.get_objects()) <= sample_spool._PAGE * sample_spool._PAGES
    assert [s.id for _, s, _ in next(t.chunks(4))] == ["s0", "s1", "s2", "s3"]
    t.close()


@pytest.mark.parametrize("dup", [(3, 9), (5, 4500)])  # within one write batch, and across batches
def test_a_repeated_sample_id_is_a_usage_error_naming_it(tmp_path, dup):
    from cvb.run.plan import _plan_task

    with pytest.raises(UsageError, match=f"yields sample id 's{dup[0]}' more than once"):
        _plan_task("many", _registry_of(ManySamples(str(tmp_path / "x.png"), 5000, dup=dup)), {}, None)
