"""The classical track: Numba HOG/HOF/MBH kernels, space-time sampling, encoders and SVMs."""

__all__: list[str] = []
