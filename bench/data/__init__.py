"""The data stage: video I/O, the manifest and its fingerprint, and the dataset adapters.

Nothing here knows about methods, runs or reports; every later stage reads videos and
splits through this package.
"""
