"""Plain functions that move data: read sources or the warehouse, call the core, write.

They know nothing of Dagster; the assets in ``alt42_pipeline.defs`` are thin calls to them.
"""
