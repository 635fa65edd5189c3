"""``openai:MODEL``: a VLM behind any OpenAI-compatible ``/chat/completions`` endpoint.

Each query becomes one request carrying the decoded compressed image as a PNG data URL
(lossless, so the server sees exactly the codec's pixels) and the ``cvb.prompts`` prompt.
Requests of a batch run on ``concurrency`` threads; answers come back in query order.
``base_url`` may list several servers of the same model (``servers.ServerPool``).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Sequence

from cvb.errors import UnavailableError, UsageError
from cvb.options import as_choice, as_float, as_int, reject_unknown
from cvb.prompts import build_prompt, cut_at_stop
from cvb.types import Answer, Query, image_to_png

from .client import ChatClient, RequestFailed
from .servers import ServerPool
from .options import OPTIONS

OPENAI_URL = "https://api.openai.com/v1"
DETAILS = ("auto", "low", "high")
TOKEN_PARAMS = ("max_tokens", "max_completion_tokens")


def png_data_url(image) -> str:
    return "data:image/png;base64," + base64.b64encode(image_to_png(image.convert("RGB"))).decode("ascii")


def answer_text(data: Any) -> tuple[str, dict[str, Any]]:
    """The assistant's text and some metadata from a chat-completions body, or RequestFailed."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RequestFailed(f"response has no choices: {str(data)[:120]!r}")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise RequestFailed(f"choice has no message: {str(choices[0])[:120]!r}")
    content = message.get("content")
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        refusal = message.get("refusal")
        raise RequestFailed(f"no text in the answer{f' (refusal: {refusal})' if refusal else ''}")
    meta: dict[str, Any] = {}
    if choices[0].get("finish_reason"):
        meta["finish_reason"] = str(choices[0]["finish_reason"])
    usage = data.get("usage")
    if isinstance(usage, dict):
        for key in ("prompt_tokens", "completion_tokens"):
            if isinstance(usage.get(key), int):
                meta[key] = usage[key]
    return content.strip(), meta


class OpenAIVLM:
    """Chat-completions client implementing the VLM protocol (construction does no I/O)."""

    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int | str = 4, timeout: float | str = 120.0,
                 max_retries: int | str = 3, backoff: float | str = 1.0,
                 backoff_max: float | str = 60.0, temperature: float | str = 0.0,
                 max_tokens: int | str | None = None, batch_size: int | str | None = None,
                 image_detail: str | None = None, token_param: str = "max_tokens", **unknown: Any):
        if not model or not model.strip():
            raise UsageError("openai VLM needs a model name: --vlm openai:MODEL")
        self.model = model.strip()
        owner = f"openai:{self.model}"
        reject_unknown(owner, unknown, OPTIONS)
        given = str(base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL)
        urls = [u.strip().rstrip("/") for u in given.split(",")]
        if not all(urls):
            raise UsageError(f"{owner}: base_url {base_url!r} has an empty URL in its list")
        self.base_url = ",".join(urls)
        self.concurrency = as_int(owner, "concurrency", concurrency, lo=1)
        self.temperature = as_float(owner, "temperature", temperature, lo=0.0)
        self.max_tokens = None if max_tokens in (None, "") else as_int(owner, "max_tokens", max_tokens, lo=1)
        self.batch_size = (4 * self.concurrency if batch_size in (None, "")
                           else as_int(owner, "batch_size", batch_size, lo=1))
        self.image_detail = (None if image_detail in (None, "")
                             else as_choice(owner, "image_detail", image_detail, DETAILS))
        self.token_param = as_choice(owner, "token_param", token_param, TOKEN_PARAMS)
        api_key = os.environ.get(api_key_env) or None
        if api_key is None and OPENAI_URL in urls:
            raise UnavailableError(
                f"openai VLM: ${api_key_env} is not set (needed for {OPENAI_URL}); for a local "
                "server pass base_url=http://HOST:PORT/v1 or set $OPENAI_BASE_URL")
        clients = [ChatClient(
            url, api_key, api_key_env,
            timeout=as_float(owner, "timeout", timeout, lo=0.001),
            max_retries=as_int(owner, "max_retries", max_retries, lo=0),
            backoff=as_float(owner, "backoff", backoff, lo=0.0),
            backoff_max=as_float(owner, "backoff_max", backoff_max, lo=0.0),
            fail_over=len(urls) > 1) for url in urls]
        self.client = clients[0] if len(clients) == 1 else ServerPool(clients)
        self.version = f"openai:{self.model}@{self.base_url}"
        #: images per question (chat completions take several image parts in one message)
        self.max_images = 16

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIVLM({self.version!r}, concurrency={self.concurrency})"

    def payload(self, query: Query) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        images = ([query.image] if query.image is not None else []) + list(query.more_images)
        for image in images:  # none for a text-only query (e.g. a judge's); several in order
            image_url: dict[str, Any] = {"url": png_data_url(image)}
            if self.image_detail:
                image_url["detail"] = self.image_detail
            content.append({"type": "image_url", "image_url": image_url})
        content.append({"type": "text", "text": build_prompt(query)})
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "temperature": self.temperature,
            self.token_param: self.max_tokens or query.max_new_tokens,
        }
        if query.stop:  # the API takes at most 4; the text is cut at every one below anyway
            body["stop"] = list(query.stop[:4])
        return body

    def _one(self, query: Query, abort: threading.Event) -> Answer:
        start = time.perf_counter()
        try:
            data, attempts = self.client.post("/chat/completions", self.payload(query), abort)
            text, meta = answer_text(data)
            text = cut_at_stop(text, query.stop)
        except RequestFailed as exc:
            return Answer(text="", error=str(exc), meta={"attempts": exc.attempts})
        meta.update(attempts=attempts, latency_s=round(time.perf_counter() - start, 4))
        return Answer(text=text, meta=meta)

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        """One Answer per query, in order; raises UnavailableError if the server refuses all."""
        if not queries:
            return []
        abort = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(queries)),
                                  thread_name_prefix="cvb-openai")
        try:
            futures = [pool.submit(self._one, q, abort) for q in queries]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for fut in done:
                error = fut.exception()
                if error is not None:
                    abort.set()  # stop retries in flight and skip requests not yet sent
                    raise error
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=not abort.is_set(), cancel_futures=True)

    def close(self) -> None:
        """Nothing to free: the model lives on the server."""
