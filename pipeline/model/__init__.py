"""Model families behind one scorer interface, and their directories."""

from pathlib import Path

# The checkout's bundled models: the default models root of every command. Defined here, not
# in ``directory``, so the CLI can name it without importing the text pipeline.
DEFAULT_MODELS_ROOT = Path(__file__).resolve().parents[2] / "models"
