"""Text stages, in the order a post goes through them: ``normalise`` (Unicode, teencode,
obfuscation, tone marks; ``mask`` hides personal data), ``segment`` (underthesea words, with
the ``crf_features`` fast path), ``prepare`` (both, once per text) and ``similarity``
(near-duplicates over folded text)."""
