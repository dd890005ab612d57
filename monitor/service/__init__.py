"""The long-running parts: the pipeline's order, the runner, health, metrics, backfill."""
