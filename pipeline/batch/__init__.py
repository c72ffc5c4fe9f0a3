"""Batch classification of files: ``inputs`` (rows and rejects from CSV, JSONL, Parquet)
→ ``run`` (chunks scored by an engine, written in order; ``dask_engine`` on a cluster)
→ ``outputs`` (partial files renamed when complete), with ``checkpoint`` for ``--resume``."""
