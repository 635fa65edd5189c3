"""cvb's conditional visual-encoder adapter: ``cvb adapt`` trains it, ``--vlm adapted:PATH`` runs it.

Built on the ``hf`` plugin's seam (the names ``cvb_hf`` exports); registered through the ``cvb`` entry-point
group like any third-party plugin. See docs/adapter.md.
"""
