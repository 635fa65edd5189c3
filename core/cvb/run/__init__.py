"""``cvb run``: the codec x level x VLM x task matrix, cached, resumable, stored in SQLite.

``plan`` resolves the matrix, ``compress_units`` and ``image_cache`` do and keep the codec work,
``runner`` drives the stages, ``store`` is the results file ``cvb report`` reads.
Nothing here imports torch; plugins do, when their components are created.
"""
