from .quantization import *  # noqa: F401,F403
from .synthesis import *  # noqa: F401,F403
