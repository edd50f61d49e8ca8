"""The tasks of the field, one sub-package each: ground truth and prediction schemas, the
standard-format writers and the task's metrics.

Only ``recognition`` (one label per trimmed clip) exists so far; temporal detection and
spatio-temporal localization are to be siblings of it.
"""
