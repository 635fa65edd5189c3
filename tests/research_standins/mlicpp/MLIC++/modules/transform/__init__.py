from .quantization import *
from .synthesis import *
