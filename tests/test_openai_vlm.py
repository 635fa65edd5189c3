"""The ``openai`` VLM against a real HTTP server on 127.0.0.1 speaking chat completions."""

from __future__ import annotations

import base64
import io
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from cvb.errors import UnavailableError, UsageError
from cvb.plugins import get_registry
from cvb.prompts import build_prompt
from cvb.types import AnswerKind, Query
from cvb_openai.retry import is_retryable, parse_retry_after, retry_delay
from cvb_openai.vlm import OpenAIVLM
from hang_guard import HANG_S

KEY = "sk-test-0123456789"
#: no waiting between retries; the request timeout only a hang guard (a loaded machine must not reach it)
FAST = dict(timeout=HANG_S, backoff=0.001, backoff_max=0.01, api_key_env="CVB_TEST_KEY")
#: the timeout the timeout test hits: far above a local echo's milliseconds, even on a loaded machine
TIMEOUT_S = 2.0


def reply(text: str) -> dict:
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 1}}


def echo(req: dict, seen: int):
    """Default behaviour: answer with the prompt's first line, reversed."""
    return 200, {}, reply(req_text(req).splitlines()[0][::-1])


def req_text(req: dict) -> str:
    return next(p["text"] for p in req["messages"][0]["content"] if p["type"] == "text")


def req_image(req: dict) -> Image.Image:
    part = next(p for p in req["messages"][0]["content"] if p["type"] == "image_url")
    url = part["image_url"]["url"]
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    img = Image.open(io.BytesIO(base64.b64decode(url[len(prefix):])))
    assert img.format == "PNG"
    return img


class FakeServer:
    """A threaded HTTP server; ``behaviour(request_json, times_this_prompt_was_seen)`` returns
    (status, headers, body) where body is a dict (sent as JSON), bytes, or ("sleep", s, body)."""

    def __init__(self, behaviour=echo):
        self.behaviour = behaviour
        self.requests: list[dict] = []
        self.seen: Counter = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                req = json.loads(raw)
                with server.lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers),
                                            "json": req})
                    key = req_text(req)
                    server.seen[key] += 1
                    n = server.seen[key]
                status, headers, body = server.behaviour(req, n)
                if isinstance(body, tuple) and body[0] == "sleep":
                    time.sleep(body[1])
                    body = body[2]
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("CVB_TEST_KEY", KEY)
    return KEY


def noise_image(w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def queries(n: int, **kw) -> list[Query]:
    return [Query(image=noise_image(13 + i, 9 + i, i), prompt=f"question {i}?",
                  kind=AnswerKind.OPEN, sample_id=f"s{i}", **kw) for i in range(n)]


def vlm(server: FakeServer, **kw) -> OpenAIVLM:
    opts = {**FAST, **kw}
    return OpenAIVLM("tiny-vl", base_url=server.url, **opts)


# ---- the request ----------------------------------------------------------------------------

def test_request_carries_exact_pixels_key_prompt_and_settings(key):
    q = Query(image=noise_image(37, 23, 7), prompt="Which fruit is shown?", kind=AnswerKind.CHOICE,
              options=("apple", "pear"), max_new_tokens=7, sample_id="a")
    with FakeServer() as srv:
        model = vlm(srv)
        [ans] = model.answer([q])
    [r] = srv.requests
    assert r["path"] == "/v1/chat/completions"
    assert r["headers"]["Authorization"] == f"Bearer {KEY}"
    body = r["json"]
    assert body["model"] == "tiny-vl" and body["temperature"] == 0 and body["max_tokens"] == 7
    sent = req_image(body)
    assert sent.size == (37, 23)
    assert np.array_equal(np.asarray(sent.convert("RGB")), np.asarray(q.image))
    assert req_text(body) == build_prompt(q)
    assert "A. apple" in req_text(body)
    assert ans.error is None and ans.text == "Which fruit is shown?"[::-1]
    assert ans.meta["attempts"] == 1 and ans.meta["completion_tokens"] == 1
    assert model.version == f"openai:tiny-vl@{srv.url}"
    assert KEY not in repr(model) and KEY not in model.version


def test_answers_come_back_in_query_order_under_concurrency(key):
    def slow_first(req, seen):
        i = int(req_text(req).split()[1].rstrip("?"))
        return 200, {}, ("sleep", 0.05 * (6 - i), reply(f"answer {i}"))

    qs = queries(6)
    with FakeServer(slow_first) as srv:
        answers = vlm(srv, concurrency=3).answer(qs)
    assert [a.text for a in answers] == [f"answer {i}" for i in range(6)]
    assert len(srv.requests) == 6


def test_options_max_tokens_token_param_and_detail(key):
    with FakeServer() as srv:
        vlm(srv, max_tokens="64", token_param="max_completion_tokens", image_detail="high",
            temperature="0.5").answer(queries(1))
    body = srv.requests[0]["json"]
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body
    assert body["temperature"] == 0.5
    assert body["messages"][0]["content"][0]["image_url"]["detail"] == "high"


def test_no_key_sends_no_authorization_to_a_local_server(monkeypatch):
    monkeypatch.delenv("CVB_TEST_KEY", raising=False)
    with FakeServer() as srv:
        [ans] = vlm(srv).answer(queries(1))
    assert ans.error is None
    assert "Authorization" not in srv.requests[0]["headers"]


def test_no_key_for_openai_itself_is_refused_up_front(monkeypatch):
    monkeypatch.delenv("CVB_TEST_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UnavailableError, match=r"\$CVB_TEST_KEY is not set"):
        OpenAIVLM("gpt-4o-mini", api_key_env="CVB_TEST_KEY")


def test_base_url_from_environment(monkeypatch, key):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://example.invalid:9/v1/")
    model = OpenAIVLM("m", api_key_env="CVB_TEST_KEY")
    assert model.base_url == "http://example.invalid:9/v1"
    assert model.version == "openai:m@http://example.invalid:9/v1"


def test_created_through_the_registry(key):
    with FakeServer() as srv:
        model = get_registry().create("vlm", "openai:org/Model-3B", base_url=srv.url, **FAST)
        [ans] = model.answer(queries(1))
    assert model.model == "org/Model-3B" and ans.error is None
    assert srv.requests[0]["json"]["model"] == "org/Model-3B"


def test_bad_options_are_usage_errors(key):
    with pytest.raises(UsageError, match="needs a model name"):
        OpenAIVLM("", base_url="http://x/v1")
    with pytest.raises(UsageError, match="image_detail"):
        OpenAIVLM("m", base_url="http://x/v1", image_detail="ultra")
    with pytest.raises(UsageError, match="concurrency"):
        OpenAIVLM("m", base_url="http://x/v1", concurrency=0)
    with pytest.raises(UsageError, match="timeout='soon' is not a number"):
        OpenAIVLM("m", base_url="http://x/v1", timeout="soon")
    with pytest.raises(UsageError, match="unknown option.*api_key.*known: api_key_env"):
        OpenAIVLM("m", base_url="http://x/v1", api_key="sk-do-not-pass-keys-as-options")


# ---- retries and failures -------------------------------------------------------------------

def test_429_then_200_is_retried(key):
    def limited(req, seen):
        if seen == 1:
            return 429, {"Retry-After": "0"}, {"error": {"message": "slow down"}}
        return echo(req, seen)

    with FakeServer(limited) as srv:
        answers = vlm(srv).answer(queries(3))
    assert all(a.error is None for a in answers)
    assert [a.text for a in answers] == [f"question {i}?"[::-1] for i in range(3)]
    assert all(a.meta["attempts"] == 2 for a in answers)
    assert len(srv.requests) == 6


def test_persistent_500_fails_that_sample_only(key):
    def broken_one(req, seen):
        if req_text(req).startswith("question 1?"):
            return 500, {}, {"error": {"message": "engine crashed"}}
        return echo(req, seen)

    with FakeServer(broken_one) as srv:
        answers = vlm(srv, max_retries=2).answer(queries(3))
    assert answers[0].error is None and answers[2].error is None
    assert answers[1].text == "" and "HTTP 500" in answers[1].error
    assert "engine crashed" in answers[1].error and "after 3 attempts" in answers[1].error
    assert srv.seen[build_prompt(queries(3)[1])] == 3


def test_400_is_not_retried(key):
    def bad(req, seen):
        return 400, {}, {"error": {"message": "image too large"}}

    with FakeServer(bad) as srv:
        [ans] = vlm(srv, max_retries=3).answer(queries(1))
    assert "HTTP 400: image too large" in ans.error and len(srv.requests) == 1


def test_timeout_fails_one_sample_others_succeed(key):
    def slow_one(req, seen):
        if req_text(req).startswith("question 2?"):
            return 200, {}, ("sleep", 3 * TIMEOUT_S, reply("too late"))
        return echo(req, seen)

    with FakeServer(slow_one) as srv:
        answers = vlm(srv, max_retries=0, timeout=TIMEOUT_S).answer(queries(4))
    assert [a.error is None for a in answers] == [True, True, False, True]
    assert "timed out" in answers[2].error and answers[2].text == ""
    assert answers[3].text == "question 3?"[::-1]


@pytest.mark.parametrize("body", [b"<html>502 bad gateway</html>", {"object": "chat.completion"},
                                  {"choices": []}, {"choices": [{"message": {"content": None}}]}])
def test_garbage_body_fails_that_sample_only(key, body):
    def garbage_one(req, seen):
        if req_text(req).startswith("question 0?"):
            return 200, {}, body
        return echo(req, seen)

    with FakeServer(garbage_one) as srv:
        answers = vlm(srv).answer(queries(2))
    assert answers[0].text == "" and answers[0].error
    assert any(s in answers[0].error for s in ("not JSON", "no choices", "no text"))
    assert answers[1].error is None and answers[1].text == "question 1?"[::-1]


def test_401_is_a_clear_error_that_hides_the_key(key):
    def unauthorized(req, seen):
        return 401, {}, {"error": {"message": f"Incorrect API key provided: {KEY}"}}

    with FakeServer(unauthorized) as srv:
        with pytest.raises(UnavailableError) as err:
            vlm(srv, max_retries=3).answer(queries(5))
    msg = str(err.value)
    assert "rejected the API key" in msg and "CVB_TEST_KEY" in msg and KEY not in msg
    assert len(srv.requests) <= 5  # no retries of a fatal answer


def test_404_names_model_and_base_url(key):
    def unknown(req, seen):
        return 404, {}, {"error": {"message": "The model `tiny-vl` does not exist."}}

    with FakeServer(unknown) as srv:
        with pytest.raises(UnavailableError, match="unknown model 'tiny-vl', or a wrong base_url"):
            vlm(srv).answer(queries(2))


def test_nothing_listening_is_a_clear_error(key):
    with FakeServer() as srv:
        url = srv.url
    with pytest.raises(UnavailableError, match="cannot connect"):
        OpenAIVLM("m", base_url=url, **{**FAST, "max_retries": 1}).answer(queries(2))


def test_empty_batch():
    assert OpenAIVLM("m", base_url="http://127.0.0.1:9/v1").answer([]) == []


# ---- backoff rules --------------------------------------------------------------------------

def test_retry_after_is_honoured_and_capped():
    assert retry_delay(0, 2.5, base=1.0, cap=60) == 2.5
    assert retry_delay(3, 2.5, base=1.0, cap=60) == 2.5
    assert retry_delay(0, 500.0, base=1.0, cap=60) == 60


def test_exponential_backoff_with_jitter():
    rng = random.Random(0)
    for attempt in range(6):
        expo = min(30.0, 0.5 * 2 ** attempt)
        for _ in range(50):
            d = retry_delay(attempt, None, base=0.5, cap=30.0, rand=rng.random)
            assert expo / 2 <= d <= expo
    draws = {retry_delay(2, None, 1.0, 60, rand=rng.random) for _ in range(20)}
    assert len(draws) > 1  # jittered, not a fixed delay


def test_parse_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_retryable_statuses():
    assert [s for s in (400, 401, 404, 408, 409, 422, 429, 500, 502, 503) if is_retryable(s)] == \
        [408, 409, 429, 500, 502, 503]


def test_stop_strings_are_sent_and_cut_and_text_only_queries_send_no_image(key):
    """A protocol's stop strings go out as the API's ``stop`` and are cut from the reply (servers
    that ignore ``stop`` exist); a query without an image (a judge's) is text only."""
    with FakeServer(lambda req, seen: (200, {}, reply("yes\n\nThere is a cat. ASSISTANT: no"))) as srv:
        model = vlm(srv)
        q = Query(image=noise_image(8, 8, 1), prompt="Is there a cat?\nAnswer briefly.", kind=AnswerKind.YESNO,
                  stop=("\n\n", "ASSISTANT:"), verbatim=True, sample_id="s")
        [ans] = model.answer([q])
        [judge] = model.answer([Query(image=None, prompt="Match this answer.", verbatim=True)])
    first, second = srv.requests[0]["json"], srv.requests[1]["json"]
    assert first["stop"] == ["\n\n", "ASSISTANT:"] and ans.text == "yes"
    assert req_text(first) == "Is there a cat?\nAnswer briefly."  # verbatim: nothing appended
    assert "stop" not in second and second["messages"][0]["content"] == [{"type": "text", "text": "Match this answer."}]
    assert judge.text == "yes\n\nThere is a cat. ASSISTANT: no"
