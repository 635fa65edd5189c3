"""The ``openai`` VLM: any OpenAI-compatible chat-completions server (vLLM, SGLang, LM Studio,
OpenAI itself), spoken to with the standard library only (urllib, json, threads)."""
