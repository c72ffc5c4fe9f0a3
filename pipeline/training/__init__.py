"""Training and evaluation: ``corpora`` (reference and reviewed corpora) and
``merge_reviews`` (reviewed labels over a corpus) → ``train`` (a model directory) →
``metrics`` (macro-F1, calibration, slices) and ``report`` (HTML evaluation reports)."""
