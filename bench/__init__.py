"""actbench harness: datasets, video I/O, splits, method registry, runner, metrics, reports."""

__version__ = "0.3.0"

__all__ = ["__version__"]
