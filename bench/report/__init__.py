"""The report stage: ``report.md`` and its figures, the history lesson, the comparison of two
runs, the regression gate and the history of the release records.

It reads run directories only (:mod:`bench.run.rundir`) and never imports the runner.
"""

from bench.report.markdown import write_report

__all__ = ["write_report"]
