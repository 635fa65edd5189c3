"""A small JSON-over-HTTP client for chat completions: retries, backoff, clear failures.

Three outcomes for a request: the decoded JSON body; ``RequestFailed`` (this one request
failed after any retries: the caller records it against its sample and goes on); or
``UnavailableError`` (the server says no request can succeed: bad key, unknown model or path,
nothing listening), which stops the whole batch. The API key is sent as a Bearer header and
scrubbed from every message this module builds.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.error
import urllib.request
from typing import Any

from cvb.errors import CvbError, UnavailableError

from .retry import is_retryable, parse_retry_after, retry_delay


class RequestFailed(CvbError):
    """One request failed for good (after retries); ``attempts`` says how many were made."""

    def __init__(self, message: str, attempts: int = 1):
        super().__init__(message)
        self.attempts = attempts


class ServerDown(RequestFailed):
    """Nothing answers at this server (connection refused): with other servers to try, the
    request moves on at once instead of retrying here."""


def _server_message(body: bytes, limit: int = 300) -> str:
    """The human part of an error body: OpenAI's ``{"error": {"message"}}``, FastAPI's
    ``{"detail"}``, or the raw text, shortened."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            for key in ("message", "detail", "msg"):
                if err.get(key):
                    text = str(err[key])
                    break
        elif isinstance(err, str):
            text = err
        elif data.get("detail"):
            text = str(data["detail"])
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ChatClient:
    """POSTs JSON to ``base_url + path``; safe to share between threads."""

    def __init__(self, base_url: str, api_key: str | None, api_key_env: str, timeout: float,
                 max_retries: int, backoff: float, backoff_max: float, fail_over: bool = False):
        self.base_url = base_url.rstrip("/")
        self.fail_over = fail_over  # one of several servers: an unreachable one is left at once
        self._api_key = api_key
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "cvb-openai"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _fatal(self, status: int, url: str, message: str, model: str) -> UnavailableError:
        if status == 401:
            how = (f"${self.api_key_env} is not set" if not self._api_key
                   else f"check the key in ${self.api_key_env}")
            what = f"the server rejected the API key (HTTP 401; {how})"
        elif status == 403:
            what = "the API key may not use this model or endpoint (HTTP 403)"
        else:
            what = (f"HTTP 404 from {url}: unknown model {model!r}, or a wrong base_url "
                    "(it usually ends in /v1, e.g. http://localhost:8000/v1)")
        return UnavailableError(self._scrub(f"openai VLM at {self.base_url}: {what}: {message}"))

    def post(self, path: str, payload: dict[str, Any], abort: threading.Event | None = None) -> tuple[Any, int]:
        """The decoded JSON response and the number of attempts it took."""
        url = self.base_url + path
        data = json.dumps(payload).encode("utf-8")
        abort = abort or threading.Event()
        last = ""
        unreachable = False
        for attempt in range(self.max_retries + 1):
            if abort.is_set():
                raise RequestFailed("cancelled: another request failed fatally", attempt)
            retry_after = None
            req = urllib.request.Request(url, data=data, headers=self._headers(), method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    body = resp.read()
                return self._decode(body, attempt + 1), attempt + 1
            except urllib.error.HTTPError as exc:
                body = exc.read() if exc.fp is not None else b""
                message = _server_message(body)
                if exc.code in (401, 403, 404):
                    raise self._fatal(exc.code, url, message, str(payload.get("model"))) from None
                last = f"HTTP {exc.code}: {message}"
                if not is_retryable(exc.code):
                    raise RequestFailed(self._scrub(last), attempt + 1) from None
                retry_after = parse_retry_after(exc.headers.get("Retry-After"))
                unreachable = False
            except (TimeoutError, socket.timeout):
                last, unreachable = f"timed out after {self.timeout:g} s", False
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                    last, unreachable = f"timed out after {self.timeout:g} s", False
                else:
                    last, unreachable = f"cannot connect to {url}: {exc.reason}", True
                    if self.fail_over:
                        raise ServerDown(self._scrub(last), attempt + 1) from None
            except (ConnectionError, OSError, http.client.HTTPException) as exc:  # reset, cut short
                last, unreachable = f"connection error: {type(exc).__name__}: {exc}", False
            if attempt < self.max_retries:
                abort.wait(retry_delay(attempt, retry_after, self.backoff, self.backoff_max))
        attempts = self.max_retries + 1
        if unreachable:  # nothing listens there: no other request can succeed either
            raise UnavailableError(self._scrub(f"openai VLM: {last} (after {attempts} attempts); "
                                               "is the server running and base_url right?"))
        raise RequestFailed(self._scrub(f"{last} (after {attempts} attempts)"), attempts)

    def _decode(self, body: bytes, attempts: int) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            snippet = body[:120].decode("utf-8", "replace")
            raise RequestFailed(self._scrub(f"response is not JSON: {snippet!r}"), attempts) from None
