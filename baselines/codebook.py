"""k-means codebooks and nearest-word assignment, through faiss or scikit-learn.

The bag-of-words pipelines of the field cluster 100 000 sampled descriptors into 4000 words
(Laptev et al. 2008) and assign every descriptor of every video to its nearest word. Both are
dense nearest-centroid searches, which faiss runs as blocked matrix products in float32 with
OpenMP threads; it is the library the IDT / Fisher-vector pipelines of the field use for this.
``backend="sklearn"`` keeps scikit-learn's :class:`~sklearn.cluster.MiniBatchKMeans` and
:func:`~sklearn.metrics.pairwise_distances_argmin` (float64), the reference that
``python -m bench perf`` measures faiss against (time and quantisation error).

Determinism: faiss k-means is seeded (``seed``); its result depends on the float32 rounding of
the machine's BLAS, so the same seed gives the same codebook in the same environment (CPU
instruction set, faiss build, thread count), not bitwise across machines. Assignment is an
exact search; float32 and float64 distances can disagree only on near-ties.

References
----------
Johnson, J., Douze, M., Jégou, H. (2019). Billion-scale similarity search with GPUs. IEEE
Transactions on Big Data. arXiv:1702.08734 (faiss).
Sculley, D. (2010). Web-scale k-means clustering. WWW. doi:10.1145/1772690.1772862
(mini-batch k-means).
Laptev, I., Marszałek, M., Schmid, C., Rozenfeld, B. (2008). Learning realistic human
actions from movies. CVPR. doi:10.1109/CVPR.2008.4587756.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BACKENDS", "check_backend", "fit_codebook", "nearest_word", "quantisation_error"]

#: The k-means backends: ``faiss`` (the default) and ``sklearn`` (the reference).
BACKENDS = ("faiss", "sklearn")
#: Lloyd iterations of the faiss k-means (faiss's own default is 25). On descriptor-like data
#: 10 already quantise better than scikit-learn's mini-batch k-means (``bench perf``).
FAISS_ITERATIONS = 10


def check_backend(backend: str, owner: str = "fit_codebook") -> None:
    """Refuse a backend not in :data:`BACKENDS` (``owner`` names who was given it)."""
    if backend not in BACKENDS:
        raise ValueError(f"The 'backend' parameter of {owner} must be one of {BACKENDS}. "
                         f"Got {backend!r} instead.")


def fit_codebook(sample: np.ndarray, n_words: int, *, seed: int = 0,
                 backend: str = "faiss") -> np.ndarray:
    """Cluster ``sample`` ``(n, D)`` into ``n_words`` centres; returns ``(n_words, D)`` float64.

    ``faiss``: Lloyd's k-means, :data:`FAISS_ITERATIONS` iterations on every sample point,
    from centres drawn at random among the points (faiss's initialisation). k-means++ seeds
    would guard against poor local minima on well-separated clusters, but scikit-learn's
    :func:`~sklearn.cluster.kmeans_plusplus` takes minutes for 4000 words, longer than the
    whole faiss fit; on continuous descriptor data the random start quantises as well
    (``python -m bench perf --only codebook``). ``sklearn``: ``MiniBatchKMeans(n_init=3,
    batch_size=max(1024, 2 * n_words))``, k-means++ initialisation.
    """
    check_backend(backend)
    if backend == "sklearn":
        from sklearn.cluster import MiniBatchKMeans

        kmeans = MiniBatchKMeans(n_clusters=n_words, random_state=seed, n_init=3,
                                 batch_size=max(1024, 2 * n_words)).fit(sample)
        return np.asarray(kmeans.cluster_centers_, dtype=np.float64)
    import faiss

    data = np.ascontiguousarray(sample, dtype=np.float32)
    kmeans = faiss.Kmeans(data.shape[1], int(n_words), niter=FAISS_ITERATIONS, seed=int(seed),
                          verbose=False, max_points_per_centroid=max(256, len(data)),
                          min_points_per_centroid=1)
    kmeans.train(data)
    return np.asarray(kmeans.centroids, dtype=np.float64).reshape(n_words, data.shape[1])


def nearest_word(descriptors: np.ndarray, codebook: np.ndarray, *,
                 backend: str = "faiss") -> np.ndarray:
    """Index of the nearest codebook row (squared Euclidean) of each descriptor, int64."""
    check_backend(backend, "nearest_word")
    if descriptors.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    if backend == "sklearn":
        from sklearn.metrics import pairwise_distances_argmin

        return pairwise_distances_argmin(descriptors, codebook).astype(np.int64)
    import faiss

    index = faiss.IndexFlatL2(codebook.shape[1])
    index.add(np.ascontiguousarray(codebook, dtype=np.float32))
    _, nearest = index.search(np.ascontiguousarray(descriptors, dtype=np.float32), 1)
    return nearest[:, 0].astype(np.int64)


def quantisation_error(sample: np.ndarray, codebook: np.ndarray) -> float:
    """Mean squared distance of each sample row to its nearest word (float64, exact)."""
    words = nearest_word(sample, codebook, backend="sklearn")
    return float(np.mean(np.sum((sample - codebook[words]) ** 2, axis=1)))
