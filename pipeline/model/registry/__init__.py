"""The model registry: list and show model directories, promote one behind a gate, roll back.

``models/<task>/CURRENT`` names the promoted directory. A promotion goes through a gate: on
every fixed test set the candidate's ``metrics.json`` shares with the current model's (by
name, e.g. ``vihsd/test``), neither macro-F1 nor ROC-AUC of the risk score may be worse than
the current model's by more than a tolerance (default 0.005). ``force`` (with a reason)
overrides a refusal. Every change of CURRENT appends one JSON line to
``models/<task>/HISTORY.jsonl`` (so a rollback knows which model was current before) and,
given a session of the review store, one audit row (entity ``model``, id the task); only a
task's first model, made current by training, is not recorded (no model was current before).

Functions return what a caller shows; they never print. ``comparison`` holds the gate's
comparison and the tables, ``listing`` where models are and what ``list`` and ``show`` say,
``promotion`` the changes of CURRENT and their history.
"""

from .comparison import (
    DEFAULT_TOLERANCE,
    GATE_METRICS,
    Comparison,
    MetricRow,
    compare,
    read_metrics,
    render_table,
)
from .listing import (
    FILE_TIME_MARK,
    FILE_TIME_NOTE,
    Listing,
    ModelEntry,
    ModelInfo,
    TaskModels,
    find_task_dir,
    list_models,
    resolve_model_dir,
    show_model,
)
from .promotion import (
    HISTORY_FILE,
    Change,
    PromotionRefused,
    promote,
    promote_first,
    read_history,
    rollback,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "FILE_TIME_MARK",
    "FILE_TIME_NOTE",
    "GATE_METRICS",
    "HISTORY_FILE",
    "Change",
    "Comparison",
    "Listing",
    "MetricRow",
    "ModelEntry",
    "ModelInfo",
    "PromotionRefused",
    "TaskModels",
    "compare",
    "find_task_dir",
    "list_models",
    "promote",
    "promote_first",
    "read_history",
    "read_metrics",
    "render_table",
    "resolve_model_dir",
    "rollback",
    "show_model",
]
