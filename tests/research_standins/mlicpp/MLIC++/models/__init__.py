from .mlicpp import MLICPlusPlus
