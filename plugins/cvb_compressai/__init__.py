"""Built-in learned codecs from the CompressAI model zoo, with CompressAI's real entropy coder."""
