from .mlicpp import MLICPlusPlus  # noqa: F401
