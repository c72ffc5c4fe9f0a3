"""The team web app: ``app`` (FastAPI, sessions, CSRF), ``routes`` (review queue, narratives
and rebuttals), ``highlight`` and ``markdown`` (safe rendering of untrusted text), ``pack``
(rebuttal packs)."""
