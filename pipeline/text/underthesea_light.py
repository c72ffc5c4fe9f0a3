"""Import underthesea without the optional pipelines its ``__init__`` loads eagerly.

underthesea's package ``__init__`` tries to import translate, classify, sentiment, language
detection, parsing, an agent and addresses; with torch and transformers installed (our
``transformer`` extra) that costs about 3 s of every start-up, in every worker process.
Word segmentation needs none of them, so they are hidden while the package initialises and
importable again afterwards (``underthesea.translate`` itself stays None in this process).

Import this module before any other ``underthesea`` import.
"""

from __future__ import annotations

import sys

_OPTIONAL = (
    "underthesea.pipeline.classification",
    "underthesea.pipeline.sentiment",
    "underthesea.pipeline.lang_detect",
    "underthesea.pipeline.dependency_parse",
    "underthesea.pipeline.translate",
    "underthesea.agent",
    "underthesea.address",
)

if "underthesea" not in sys.modules:
    hidden = [name for name in _OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes the import fail fast
    try:
        import underthesea  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
