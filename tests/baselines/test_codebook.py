"""k-means codebooks and nearest-word assignment against NumPy and scikit-learn oracles."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.codebook import BACKENDS, fit_codebook, nearest_word, quantisation_error
from baselines.encoders import VLAD, BagOfWords


def _clustered(rng, n=3000, k=12, dim=8):
    centres = rng.normal(scale=6.0, size=(k, dim))
    return centres[rng.integers(0, k, n)] + rng.standard_normal((n, dim))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearest_word_is_the_argmin_of_squared_distances(backend):
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(50, 16))
    descriptors = rng.normal(size=(2000, 16))
    oracle = np.argmin(((descriptors[:, None, :] - codebook[None]) ** 2).sum(-1), axis=1)
    assert np.array_equal(nearest_word(descriptors, codebook, backend=backend), oracle)
    assert nearest_word(descriptors[:0], codebook, backend=backend).shape == (0,)


def test_faiss_quantises_as_well_as_minibatch_kmeans_on_descriptor_like_data():
    from baselines.perf import _descriptor_sample

    sample = _descriptor_sample(6000, 24, seed=1)
    errors = {b: quantisation_error(sample, fit_codebook(sample, 60, seed=0, backend=b))
              for b in BACKENDS}
    assert errors["faiss"] <= 1.01 * errors["sklearn"]


def test_faiss_codebook_is_deterministic_for_a_seed():
    sample = _clustered(np.random.default_rng(2))
    first = fit_codebook(sample, 16, seed=3)
    assert np.array_equal(first, fit_codebook(sample, 16, seed=3))
    assert first.shape == (16, sample.shape[1]) and first.dtype == np.float64


@pytest.mark.parametrize("encoder", [BagOfWords, VLAD])
def test_encoders_refuse_an_unknown_backend(encoder):
    with pytest.raises(ValueError, match="'backend' parameter"):
        encoder(n_words=2, backend="annoy").fit(np.ones((5, 2)))


def test_both_backends_give_the_same_bag_of_words_on_a_fixed_codebook():
    rng = np.random.default_rng(4)
    sets = [_clustered(rng, n=200) for _ in range(5)]
    fast = BagOfWords(n_words=12, backend="faiss").fit(sets)
    reference = BagOfWords(n_words=12, backend="sklearn").fit(sets)
    reference.codebook_ = fast.codebook_  # assignment alone
    np.testing.assert_allclose(fast.transform(sets), reference.transform(sets))
