"""The run stage: the run configuration, the runner (orchestration only), the run directory
(its one reader and writer) and the record of the numerical environment."""
