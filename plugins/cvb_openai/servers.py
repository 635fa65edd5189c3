"""Several servers of one model behind one ``openai:`` VLM (vLLM's data parallel, replicas
behind no load balancer): ``base_url=URL1,URL2,...``.

Each request goes to the reachable server with the fewest requests in flight. A server that
cannot be reached (nothing listening, connection refused) is set aside for ``COOLDOWN_S``
seconds and the request moves on at once to another; a request that fails on one server after
its retries (5xx, timeouts) is tried once more on each other server. Only when no server can be
reached is the VLM unavailable (the run stops, as with one server). 401/403/404 stop at once:
they are the same answer everywhere (a key or model name that is wrong).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Sequence

from cvb.errors import UnavailableError

from .client import ChatClient, RequestFailed, ServerDown

COOLDOWN_S = 30.0


class ServerPool:
    def __init__(self, clients: Sequence[ChatClient], cooldown: float = COOLDOWN_S):
        self.clients = list(clients)
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._in_flight = [0] * len(self.clients)
        self._down_until = [0.0] * len(self.clients)
        self.sent = [0] * len(self.clients)  # requests each server was sent (for tests, logs)

    @property
    def base_url(self) -> str:
        return ",".join(c.base_url for c in self.clients)

    def _pick(self, tried: set[int]) -> int | None:
        """Untried servers: reachable ones first, fewest in flight; then those set aside."""
        now = time.monotonic()
        with self._lock:
            left = [i for i in range(len(self.clients)) if i not in tried]
            if not left:
                return None
            i = min(left, key=lambda k: (self._down_until[k] > now, self._in_flight[k], self.sent[k]))
            self._in_flight[i] += 1
            self.sent[i] += 1
            return i

    def post(self, path: str, payload: dict[str, Any], abort: threading.Event | None = None) -> tuple[Any, int]:
        tried: set[int] = set()
        attempts, failure, down = 0, None, []
        while True:
            i = self._pick(tried)
            if i is None:
                break
            tried.add(i)
            try:
                data, n = self.clients[i].post(path, payload, abort)
                with self._lock:
                    self._down_until[i] = 0.0
                return data, attempts + n
            except ServerDown as exc:
                attempts += exc.attempts
                down.append(str(exc))
                with self._lock:
                    self._down_until[i] = time.monotonic() + self.cooldown
            except RequestFailed as exc:
                attempts += exc.attempts
                failure = exc
            finally:
                with self._lock:
                    self._in_flight[i] -= 1
        if failure is not None:
            raise RequestFailed(str(failure), attempts)
        raise UnavailableError(f"openai VLM: no server can be reached: {'; '.join(down)}")
