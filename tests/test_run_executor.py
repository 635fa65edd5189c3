"""The executor is chosen once (``make_executor``) and the runner only talks to its interface:
a run through an executor that records its calls does all its work through it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import use_fakes


def test_make_executor_checks_its_settings():
    from cvb.errors import UsageError
    from cvb.run.executor import LocalExecutor, make_executor
    from cvb.run.ray_executor import RayExecutor

    local = make_executor("local", jobs=3)
    assert isinstance(local, LocalExecutor) and local.jobs == 3 and local.notes("-j 3: note") == ["-j 3: note"]
    ray = make_executor("ray", jobs=4, replicas=2)
    assert isinstance(ray, RayExecutor) and ray.settings.replicas == 2
    assert ray.notes("-j 4: note") == ["-j 4 has no effect with --executor ray: compression runs as Ray tasks "
                                       "(two in flight per cluster CPU)"]
    assert ray.describe() == {"jobs": 4, "executor": "ray", "address": None, "replicas": 2, "replica_gpus": None}
    with pytest.raises(UsageError, match="need --executor ray"):
        make_executor("local", replica_gpus=0.5)
    with pytest.raises(UsageError, match="unknown executor 'slurm': one of local, ray"):
        make_executor("slurm")


class Recording:
    """The local executor, every call the runner makes to it recorded."""

    def __init__(self):
        from cvb.run.executor import LocalExecutor

        self.inner, self.calls = LocalExecutor(1), []
        self.name, self.jobs = "recording", 1

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def call(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)
        return call


def test_the_runner_does_its_work_through_the_executor_it_is_given(tmp_path, monkeypatch):
    import cvb.plugins
    from cvb.run.image_cache import ImageCache
    from cvb.run.plan import RunRequest, build_plan
    from cvb.run.runner import Runner
    from cvb.run.store import Store

    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 2)
    registry = cvb.plugins.get_registry()
    plan = build_plan(RunRequest(vlms=["scripted"], tasks=[f"toy:{images}"], codecs=["fake"], levels=["1,4"],
                                 metrics=["none"]), registry)
    store = Store(tmp_path / "s.sqlite")
    executor = Recording()
    try:
        run_id = store.begin_run({"cvb_version": "t", "argv": [], "options": {}, "plugins": [], "prompts": {}})
        result = Runner(plan, store, ImageCache(tmp_path / "cache"), registry, run_id, executor=executor).run()
    finally:
        store.close()
        plan.close()
    assert not result["failures"] and result["work"]["compressed"] == 4 and result["work"]["predictions"] == 12
    assert executor.calls[0] == "start" and executor.calls.count("compress") == 1
    assert executor.calls.count("inference") == 1  # one VLM: one inference channel
