"""One module per command-line verb of ``python -m bench``."""

__all__: list[str] = []
