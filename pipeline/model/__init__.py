"""Model families behind one scorer interface, and their directories.

``base`` (the Scorer interface) → ``tfidf`` → ``linear``; ``transformer`` (``_hf_training``,
``onnx_runtime``, ``encoder_builder``); ``neural`` (a CNN trained from scratch, scored in
numpy); ``calibration``; ``directory`` (model directories,
``CURRENT``), ``config_file``, ``families``, ``card``; ``classifier`` (every task's model
over posts); ``registry`` (list, show, promote, roll back).
"""

from pathlib import Path

# The checkout's bundled models: the default models root of every command. Defined here, not
# in ``directory``, so the CLI can name it without importing the text pipeline.
DEFAULT_MODELS_ROOT = Path(__file__).resolve().parents[2] / "models"
