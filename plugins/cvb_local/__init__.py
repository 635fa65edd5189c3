"""Offline tasks on local images: the bundled ``sample`` photos and any ``folder:`` of your own.

``plugin.py`` registers them lazily; the task classes live in ``sample_task.py`` and
``folder_task.py``.
"""
