"""The lmms-eval bridge: any lmms-eval 0.7.3 image task as a cvb task (``lmms-eval:NAME[:PATH]``)."""
