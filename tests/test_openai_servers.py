"""The ``openai`` VLM over several servers of one model (``base_url=URL1,URL2``): requests spread
over them, a server that is down or fails is left for the others, and `cvb run` uses it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from cvb.errors import UnavailableError
from cvb_openai.vlm import OpenAIVLM

from test_openai_vlm import FAST, KEY, FakeServer, echo, key, queries, reply  # noqa: F401 - `key` is a fixture
from hang_guard import HANG_S


def dead_url() -> str:
    """A URL where nothing listens (a port just closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def model(*urls: str, **kw) -> OpenAIVLM:
    return OpenAIVLM("tiny-vl", base_url=",".join(urls), **{**FAST, "concurrency": 4, **kw})


def test_requests_spread_over_the_servers_and_answers_keep_their_order(key):  # noqa: F811 - the `key` fixture imported above
    with FakeServer() as a, FakeServer() as b:
        vlm = model(a.url, b.url)
        answers = vlm.answer(queries(24))
    assert [x.text for x in answers] == [f"question {i}?"[::-1] for i in range(24)]
    assert len(a.requests) + len(b.requests) == 24
    assert len(a.requests) >= 6 and len(b.requests) >= 6  # both did a real share
    assert vlm.version == f"openai:tiny-vl@{a.url},{b.url}"


def test_a_server_that_is_down_is_left_for_the_others(key):  # noqa: F811 - the `key` fixture imported above
    down = dead_url()
    with FakeServer() as up:
        vlm = model(down, up.url, max_retries=3)
        answers = vlm.answer(queries(12))
    assert all(x.error is None for x in answers) and len(up.requests) == 12
    assert vlm.client.sent[0] <= 4  # tried by the first requests in flight, then set aside


def test_a_request_failing_on_one_server_is_tried_on_another(key):  # noqa: F811 - the `key` fixture imported above
    def broken(req, seen):
        return 503, {}, {"error": {"message": "overloaded"}}

    with FakeServer(broken) as bad, FakeServer() as good:
        vlm = model(bad.url, good.url, max_retries=1)
        answers = vlm.answer(queries(8))
    assert all(x.error is None for x in answers)
    assert len(good.requests) == 8


def test_every_server_down_makes_the_vlm_unavailable(key):  # noqa: F811 - the `key` fixture imported above
    vlm = model(dead_url(), dead_url())
    with pytest.raises(UnavailableError, match="no server can be reached"):
        vlm.answer(queries(2))


def test_cvb_run_spreads_a_run_over_two_servers(tmp_path, key):  # noqa: F811 - the `key` fixture imported above
    """The real `cvb` command in a fresh process, answering the sample task through two servers."""
    def answer(req, seen):
        text = req["messages"][0]["content"][-1]["text"]
        return 200, {}, reply("no" if "?" in text else "x")

    cvb = str(__import__("pathlib").Path(sys.executable).with_name("cvb"))
    with FakeServer(answer) as a, FakeServer(answer) as b:
        out = subprocess.run([cvb, "run", "--vlm", "openai:tiny-vl", "-t", "sample", "--limit", "12", "-m", "none",
                              "-o", f"vlm.base_url={a.url},{b.url}", "-o", "vlm.api_key_env=CVB_TEST_KEY",
                              "-o", "vlm.concurrency=4", "--store", str(tmp_path / "s.sqlite"), "--cache-dir",
                              str(tmp_path / "cache"), "-q", "--json"],
                             capture_output=True, text=True, timeout=HANG_S)
        n_a, n_b = len(a.requests), len(b.requests)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["work"]["predictions"] == 12 and n_a + n_b == 12 and n_a and n_b
