"""The deep track: video CNNs, TSN, LRCN and a video transformer in PyTorch."""

__all__: list[str] = []
