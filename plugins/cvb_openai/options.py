"""The ``openai`` VLM's options with their one-line help (shared by the spec and the class)."""

OPTIONS = {
    "base_url": "server URL ending in /v1 (default $OPENAI_BASE_URL, else api.openai.com/v1); "
                "several servers of one model comma-separated (requests spread over them)",
    "api_key_env": "environment variable holding the key (default OPENAI_API_KEY)",
    "concurrency": "requests in flight at once (default 4)",
    "batch_size": "queries handed over per call (default 4 x concurrency)",
    "timeout": "socket timeout per request in seconds (default 120)",
    "max_retries": "retries on 408/409/429/5xx, timeouts, connection errors (default 3)",
    "backoff": "first retry wait in seconds, doubling each retry, jittered (default 1)",
    "backoff_max": "longest wait between retries, Retry-After included (default 60)",
    "temperature": "sampling temperature (default 0)",
    "max_tokens": "answer length cap (default: the task's max_new_tokens)",
    "token_param": "max_tokens (default) or max_completion_tokens (newer OpenAI models)",
    "image_detail": "OpenAI image detail: auto, low or high (default: not sent)",
}

#: options that change how requests are made, never the answers: out of the store label, so
#: changing a timeout never asks a paid API again
EXECUTION_OPTIONS = ("api_key_env", "concurrency", "batch_size", "timeout", "max_retries", "backoff", "backoff_max")
