"""Routes of the web app, one module per area: ``review`` (queue, items, answers, audit) and
``rebuttals`` (narratives, rebuttal editor, packs)."""
