"""The ``openai`` VLM's options with their one-line help (shared by the spec and the class).

Those that change how requests are made, never the answers, are ``Option(..., affects_results=False)``:
out of the model's identity, so changing a timeout never asks a paid API again.
"""

from cvb.specs import Option

OPTIONS = {
    "base_url": "server URL ending in /v1 (default $OPENAI_BASE_URL, else api.openai.com/v1); "
                "several servers of one model comma-separated (requests spread over them)",
    "api_key_env": Option("environment variable holding the key (default OPENAI_API_KEY)", affects_results=False),
    "concurrency": Option("requests in flight at once (default 4)", affects_results=False),
    "batch_size": Option("queries handed over per call (default 4 x concurrency)", affects_results=False),
    "timeout": Option("socket timeout per request in seconds (default 120)", affects_results=False),
    "max_retries": Option("retries on 408/409/429/5xx, timeouts, connection errors (default 3)", affects_results=False),
    "backoff": Option("first retry wait in seconds, doubling each retry, jittered (default 1)", affects_results=False),
    "backoff_max": Option("longest wait between retries, Retry-After included (default 60)", affects_results=False),
    "temperature": "sampling temperature (default 0)",
    "max_tokens": "answer length cap (default: the task's max_new_tokens)",
    "token_param": "max_tokens (default) or max_completion_tokens (newer OpenAI models)",
    "image_detail": "OpenAI image detail: auto, low or high (default: not sent)",
}
