"""Lightweight reference models that run fully offline from weights shipped in pip packages.

They are *not* VLMs: ``ocr-reader`` reads text (RapidOCR, PP-OCRv4), ``imagenet-tagger``
names objects (EfficientNet-Lite0 + all-MiniLM-L6-v2), and ``reference`` routes each question
to one of them. They answer a few question shapes well enough to make the offline demo's
numbers real, and degrade on compressed images as real models do. See docs/vlm-reference.md.
"""
