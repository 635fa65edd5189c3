"""The ``hf`` VLM plugin: any Hugging Face image-text-to-text model, through transformers.

``plugin`` registers the specs (nothing heavy imported); ``vlm.HFVLM`` is the model wrapper;
``loading`` finds, checks and loads checkpoints; ``choices`` reads yes/no and multiple-choice
answers from next-token logits; ``vision`` is the seam adapter training uses (vision tower and
the visual tokens the LLM sees).
"""
