"""The paper's benchmark tasks, loaded from the Hugging Face hub datasets lmms-eval uses.

One module per benchmark; ``plugin`` registers them without importing ``datasets``. Each task
takes a local copy (``name:PATH`` or ``path=``) for machines without the hub. See docs/tasks.md.
"""
