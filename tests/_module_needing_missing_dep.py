"""Test helper: a stage module whose own dependency is missing (see test_pipeline.py)."""
import no_such_dependency  # noqa: F401
