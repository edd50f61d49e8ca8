"""The six registered classical methods: local space-time descriptors → BoW / Fisher → SVM.

Every method is a :class:`ClassicalVideoClassifier` — extraction (:mod:`baselines.extraction`),
one encoder per descriptor channel (:mod:`baselines.encoders`) and an SVM
(:mod:`baselines.svm`) — configured as in its paper, with a small configuration under
``ctx.quick``. Hyper-parameters (the SVM's ``C``) are chosen by cross-validation on the
training set only: grouped by actor when ``fit(paths, y, groups=...)`` receives the groups
(the runner may pass the manifest's ``group`` column), stratified otherwise.

Options read from ``ctx.options``: ``backend`` (``"joblib"`` or ``"dask"``) and
``scheduler`` (the Dask scheduler address); per-method parameters (``flow="dis"``,
``size``, ``max_frames``, ``n_words``, ...) come through ``build_method(name, ctx, **params)``.
"""

from __future__ import annotations

import contextlib
import tempfile
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from baselines.encoders import BagOfWords, FisherVector
from baselines.extraction import DescriptorFile, ExtractorConfig, extract_to_cache
from baselines.flow import FlowConfig
from baselines.svm import LinearFVClassifier, MultiChannelChi2SVM
from bench.methods import MethodCard, MethodContext, VideoFailure, register_method
from bench.profile import WORKER_PREFIX, stage
from bench.profile import add as add_seconds

__all__ = ["ClassicalVideoClassifier", "METHOD_NAMES"]

METHOD_NAMES = (
    "hog_bow_svm",
    "hof_bow_svm",
    "hoghof_bow_svm",
    "stip_hoghof_bow_svm",
    "dense_mbh_fv_svm",
    "dt_hoghofmbh_fv_svm",
)

#: Training descriptors per channel that the encoders learn from (Laptev et al. 2008 cluster
#: a subset of 100 000 features).
_ENCODER_SAMPLE = 100_000
#: At most this many codebook words per training video (:meth:`_fitted_encoder`).
WORDS_PER_VIDEO = 20


# ------------------------------------------------------------------ encoders & classifiers
def _make_classifier(encoding: str, channel_dims: list[int], C_grid: tuple, cv: int,
                     n_classes: int, random_state: int):
    """Multichannel χ² SVM for BoW histograms, linear SVM for Fisher vectors; C by CV."""
    if encoding == "bow":
        edges = np.concatenate([[0], np.cumsum(channel_dims)]).astype(int)
        channels = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        return MultiChannelChi2SVM(C="auto", channels=channels, n_classes=n_classes,
                                   C_grid=tuple(C_grid), cv=cv, random_state=random_state)
    return LinearFVClassifier(C="auto", n_classes=n_classes, C_grid=tuple(C_grid), cv=cv,
                              random_state=random_state)


# ------------------------------------------------------------------ the estimator
class ClassicalVideoClassifier(BaseEstimator):
    """Local space-time features, per-channel encoding and an SVM, over video paths.

    Parameters
    ----------
    extractor : ExtractorConfig
        Sampling, descriptors, flow, frame size.
    encoding : {"bow", "fv"}
        Bag of words (χ² SVM) or Fisher vectors (linear SVM).
    n_words : int
        BoW codebook size per channel.
    n_components : int
        GMM components per channel (Fisher vectors).
    C_grid : tuple of float
        Candidate SVM ``C`` values; the SVM picks one by cross-validation on the training
        set only (grouped when ``fit`` receives ``groups``, stratified otherwise).
    cv_folds : int
    n_classes : int
        Number of classes (``len(ctx.classes)``); scores have one column per class.
    n_jobs, backend, scheduler, cache_dir, progress : extraction settings
        See :func:`baselines.extraction.extract_to_cache`; without ``cache_dir`` the
        descriptors go to a temporary folder removed after each call.
    random_state : int
    co_extract : tuple of ExtractorConfig
        Extractor configurations of the run's other classical methods: a video this method
        extracts gets theirs extracted in the same pass and cached (one decode, one flow per
        frame pair; :func:`baselines.extraction.extract_videos`), so the first classical
        method of a run pays for the shared per-video work and the others read the cache.
        The descriptors are the same, bit for bit, as separate extraction gives.

    Attributes
    ----------
    C_ : float
        The SVM's ``C`` chosen by cross-validation.
    selection_ : dict
        ``{"C": C_, "C_grid": [...]}``: the model selection of this fit; the runner keeps it
        in ``timing.json`` and the report marks a ``C`` at the edge of its grid (the
        selection may have wanted a value outside it).
    n_params_ : int
        Learned numbers (codebooks / PCA + GMM, SVM weights).
    failures_ : list of bench.methods.VideoFailure
    """

    def __init__(self, extractor: ExtractorConfig | None = None, encoding: str = "bow",
                 n_words: int = 4000, n_components: int = 256,
                 C_grid: tuple = (0.1, 1.0, 10.0, 100.0), cv_folds: int = 3,
                 n_classes: int = 2, n_jobs: int = 1, backend: str = "joblib",
                 scheduler: str | None = None, cache_dir: str | None = None,
                 progress: bool = False, random_state: int = 0, co_extract: tuple = ()):
        self.extractor = extractor
        self.co_extract = co_extract
        self.encoding = encoding
        self.n_words = n_words
        self.n_components = n_components
        self.C_grid = C_grid
        self.cv_folds = cv_folds
        self.n_classes = n_classes
        self.n_jobs = n_jobs
        self.backend = backend
        self.scheduler = scheduler
        self.cache_dir = cache_dir
        self.progress = progress
        self.random_state = random_state

    # -- helpers
    def _channels(self) -> list[str]:
        return list(self.extractor.channels)

    @contextlib.contextmanager
    def _descriptor_cache(self):
        """``cache_dir``, or a temporary folder removed afterwards when there is none."""
        if self.cache_dir is not None:
            yield self.cache_dir
            return
        with tempfile.TemporaryDirectory(prefix="actbench_descriptors_") as tmp:
            yield tmp

    def _extract(self, paths, cache_dir) -> list:
        """One :class:`DescriptorFile` handle (or VideoFailure) per video; no arrays.

        Profiled as ``extraction`` (wall-clock) plus the workers' own stages, summed over
        videos under ``worker:`` (:mod:`bench.profile`).
        """
        with stage("extraction"):
            results = extract_to_cache(paths, self.extractor, cache_dir=cache_dir,
                                       n_jobs=self.n_jobs, backend=self.backend,
                                       scheduler=self.scheduler, progress=self.progress,
                                       also=tuple(self.co_extract or ()))
        for result in results:
            if isinstance(result, DescriptorFile):
                add_seconds(result.seconds, prefix=WORKER_PREFIX)
        return results

    def _training_samples(self, handles: list[DescriptorFile]) -> dict[str, np.ndarray]:
        """A seeded sample of at most ``_ENCODER_SAMPLE`` training descriptors per channel,
        read one video at a time.

        The rows are those the encoders would draw from the pooled descriptors of all videos
        (``default_rng(random_state).choice(N, _ENCODER_SAMPLE)`` over the concatenation in
        video order), so the encoders learn exactly what they learned from the pooled arrays,
        without ever holding them.
        """
        counts = np.array([h.n for h in handles], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        total = int(offsets[-1])
        keep = None
        if total > _ENCODER_SAMPLE:
            rng = np.random.default_rng(self.random_state)
            keep = np.sort(rng.choice(total, _ENCODER_SAMPLE, replace=False))
        parts: dict[str, list] = {c: [] for c in self._channels()}
        for h, start, stop in zip(handles, offsets[:-1], offsets[1:], strict=True):
            if keep is None:
                rows = slice(None)
            else:
                lo, hi = np.searchsorted(keep, [start, stop])
                if lo == hi:
                    continue
                rows = keep[lo:hi] - start
            feats = h.load(self._channels())
            for c in parts:
                parts[c].append(feats[c][rows])
            del feats
        return {c: np.concatenate(p).astype(np.float64) for c, p in parts.items()}

    def _encode(self, handles: list[DescriptorFile]) -> np.ndarray:
        """``(n_videos, code_dim)`` codes, encoding one video at a time from the cache."""
        channels = self._channels()
        items = handles
        if self.progress:
            from tqdm.auto import tqdm

            items = tqdm(handles, desc="encode", unit="video")
        X = None
        for i, h in enumerate(items):
            feats = h.load(channels)
            row = np.concatenate([
                np.asarray(self.encoders_[c].transform([feats[c]]), dtype=np.float64)[0]
                for c in channels])
            del feats
            if X is None:
                X = np.empty((len(handles), row.size))
            X[i] = row
        return X

    def _code_dim(self, channel: str) -> int:
        enc = self.encoders_[channel]
        if hasattr(enc, "codebook_"):
            return int(enc.codebook_.shape[0])
        return int(2 * enc.gmm_.means_.size)

    def _fitted_encoder(self, channel: str, n: int, sample: np.ndarray, n_videos: int):
        """Fit the channel's encoder on ``sample`` (drawn from ``n`` training descriptors of
        ``n_videos`` videos), shrinking it when the training set is small.

        A bag-of-words codebook has at most :data:`WORDS_PER_VIDEO` words per training video:
        the papers' 4000 words come with hundreds of training videos (Laptev et al. 2008:
        4000 words for Hollywood's 219), and 4000 words from the 32 videos of a small folder
        dataset would be histograms of mostly empty bins at ten times the k-means cost.

        A codebook cannot have more words than descriptors, PCA more dimensions than
        descriptors, and a diagonal GMM needs at least as many descriptors per Gaussian as it
        has free parameters (2 * pca_dim + 1) or its Fisher vectors are noise; with tiny
        training sets (tests, quick runs) the sizes are reduced to fit and recorded in
        ``encoder_sizes_``. Full-size training sets keep the paper's sizes.
        """
        dim = int(sample.shape[1])
        if n < 2:
            raise ValueError(
                f"only {n} '{channel}' descriptor(s) in the training videos; the videos are too "
                "short or static for this sampler (use longer clips or a denser sampler)"
            )
        if self.encoding == "bow":
            n_words = min(self.n_words, n, max(2, WORDS_PER_VIDEO * int(n_videos)))
            self.encoder_sizes_[channel] = {"n_words": n_words}
            enc = BagOfWords(n_words=max(2, n_words), max_descriptors=_ENCODER_SAMPLE,
                             random_state=self.random_state)
        elif self.encoding == "fv":
            pca_dim = max(1, min(dim // 2, n - 1))
            # a diagonal Gaussian has 2 * pca_dim + 1 free parameters: ask for at least as
            # many training descriptors per Gaussian
            n_components = max(1, min(self.n_components, n // (2 * pca_dim + 1)))
            self.encoder_sizes_[channel] = {"n_components": n_components, "pca_dim": pca_dim}
            enc = FisherVector(n_components=n_components, pca_dim=pca_dim,
                               max_descriptors=_ENCODER_SAMPLE, random_state=self.random_state)
        else:
            raise ValueError(
                f"The 'encoding' parameter must be 'bow' or 'fv'. Got {self.encoding!r} instead."
            )
        return enc.fit(sample)

    # -- protocol
    def fit(self, paths, y, groups=None) -> ClassicalVideoClassifier:
        """Extract, encode and train on the videos that decode.

        Memory does not grow with the number of videos times descriptors: the workers write
        each video's descriptors to the cache and return handles; the encoders learn from a
        seeded sample of at most 100 000 descriptors per channel read one video at a time;
        then each video is encoded on its own, so only the ``(n_videos, code_dim)`` matrix
        stays in memory.

        Parameters
        ----------
        paths : 1-D array of str
        y : array of int in ``range(n_classes)``
        groups : array, optional
            Group (actor) of each video; when given, ``C`` is chosen by grouped CV.
        """
        if self.extractor is None:
            raise ValueError("ClassicalVideoClassifier needs an 'extractor' (ExtractorConfig)")
        if self.encoding not in ("bow", "fv"):
            raise ValueError(
                f"The 'encoding' parameter must be 'bow' or 'fv'. Got {self.encoding!r} instead."
            )
        paths = np.asarray(paths, dtype=object)
        y = np.asarray(y, dtype=int)
        if len(paths) != len(y):
            raise ValueError(f"paths ({len(paths)}) and y ({len(y)}) differ in length")
        if len(y) and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"labels must be in range(n_classes={self.n_classes})")
        self.failures_: list[VideoFailure] = []
        with self._descriptor_cache() as cache:
            results = self._extract(paths, cache)
            ok = [i for i, r in enumerate(results) if not isinstance(r, VideoFailure)]
            self.failures_.extend(r for r in results if isinstance(r, VideoFailure))
            if len({int(v) for v in y[ok]}) < 2:
                raise ValueError("fewer than two classes have a training video that decodes")
            handles = [results[i] for i in ok]
            y_ok = y[ok]
            n_total = int(sum(h.n for h in handles))
            self.encoders_ = {}
            self.encoder_sizes_ = {}
            with stage("read training sample"):
                samples = self._training_samples(handles)
            with stage("codebook / GMM fit"):
                for c in self._channels():
                    self.encoders_[c] = self._fitted_encoder(c, n_total, samples.pop(c),
                                                             n_videos=len(handles))
            del samples
            self.channel_dims_ = [self._code_dim(c) for c in self._channels()]
            with stage("encoding"):
                X = self._encode(handles)
        g = None if groups is None else np.asarray(groups)[ok]
        self.classifier_ = _make_classifier(self.encoding, self.channel_dims_, self.C_grid,
                                            self.cv_folds, self.n_classes, self.random_state)
        with stage("SVM fit + C selection"):
            self.classifier_.fit(X, y_ok, groups=g)
        self.C_ = float(self.classifier_.C_)
        self.selection_ = {"C": self.C_, "C_grid": [float(c) for c in self.C_grid]}
        self.n_descriptors_ = n_total
        self.n_params_ = self._count_params()
        return self

    def _count_params(self) -> int:
        """Learned numbers: codebooks / PCA + GMM, SVM weights (and, for the χ² kernel SVM,
        the training histograms it keeps)."""
        total = 0
        for enc in self.encoders_.values():
            if hasattr(enc, "codebook_"):
                total += enc.codebook_.size
            if hasattr(enc, "gmm_"):
                total += enc.pca_.components_.size + enc.pca_.mean_.size
                total += enc.gmm_.means_.size + enc.gmm_.covariances_.size + enc.gmm_.weights_.size
        clf = self.classifier_
        for est in getattr(clf, "estimators_", []):
            for name in ("coef_", "dual_coef_", "intercept_"):
                if hasattr(est, name):
                    total += np.asarray(getattr(est, name)).size
        if hasattr(clf, "X_train_"):
            total += clf.X_train_.size
        return int(total)

    def decision_function(self, paths) -> np.ndarray:
        """Scores ``(n_videos, n_classes)``; NaN rows for videos that fail."""
        paths = np.asarray(paths, dtype=object)
        scores = np.full((len(paths), self.n_classes), np.nan)
        with self._descriptor_cache() as cache:
            results = self._extract(paths, cache)
            ok = [i for i, r in enumerate(results) if not isinstance(r, VideoFailure)]
            self.failures_.extend(r for r in results if isinstance(r, VideoFailure))
            if ok:
                with stage("encoding"):
                    X = self._encode([results[i] for i in ok])
                with stage("SVM decision"):
                    scores[ok] = np.asarray(self.classifier_.decision_function(X),
                                            dtype=np.float64)
        return scores


# ------------------------------------------------------------------ registrations
_DOI = {
    "dalal": "N. Dalal, B. Triggs, \"Histograms of oriented gradients for human detection\", "
             "CVPR 2005, doi:10.1109/CVPR.2005.177",
    "laptev": "I. Laptev, M. Marszałek, C. Schmid, B. Rozenfeld, \"Learning realistic human "
              "actions from movies\", CVPR 2008, doi:10.1109/CVPR.2008.4587756",
    "wang13": "H. Wang, A. Kläser, C. Schmid, C.-L. Liu, \"Dense trajectories and motion "
              "boundary descriptors for action recognition\", IJCV 103(1) 2013, "
              "doi:10.1007/s11263-012-0594-8",
}


def _dense_params(quick: bool) -> dict:
    if quick:
        return {"sizes": (24,), "lengths": (8,), "overlap": 0.5}
    return {"sizes": (18, 25, 36, 51), "lengths": (10, 20), "overlap": 0.5}


def _frame_params(quick: bool) -> dict:
    """Single-frame patches on the dense spatial grid: appearance without time."""
    return {**_dense_params(quick), "lengths": (1,)}


def _harris_params(quick: bool) -> dict:
    if quick:
        return {"sigma2s": (4.0,), "tau2s": (2.0,), "max_points_per_frame": 20}
    return {"sigma2s": (4.0, 8.0), "tau2s": (2.0, 4.0), "max_points_per_frame": 40}


def _traj_params(quick: bool) -> dict:
    return {"grid_step": 5, "track_length": 15, "patch_size": 32}


#: name -> (sampler, sampler params builder, channels, grid, encoding)
_SPECS: dict[str, tuple] = {
    "hog_bow_svm": ("dense", _frame_params, ("hog",), "dalal_triggs", "bow"),
    "hof_bow_svm": ("dense", _dense_params, ("hof",), "laptev", "bow"),
    "hoghof_bow_svm": ("dense", _dense_params, ("hog", "hof"), "laptev", "bow"),
    "stip_hoghof_bow_svm": ("harris3d", _harris_params, ("hog", "hof"), "laptev", "bow"),
    "dense_mbh_fv_svm": ("dense", _dense_params, ("mbhx", "mbhy"), "densetrack", "fv"),
    "dt_hoghofmbh_fv_svm": ("trajectories", _traj_params,
                            ("traj", "hog", "hof", "mbhx", "mbhy"), "densetrack", "fv"),
}


#: The method parameters that decide a method's extractor configuration.
_EXTRACTOR_PARAMS = ("flow", "size", "max_frames", "stride", "max_descriptors")


def _extractor(name: str, ctx: MethodContext, *, flow: str = "farneback",
               size: int | None = None, max_frames: int | None = None, stride: int = 1,
               max_descriptors: int | None = None) -> ExtractorConfig:
    """The extractor configuration of method ``name`` under ``ctx`` and its parameters."""
    sampler, params_of, channels, grid, _ = _SPECS[name]
    quick = bool(ctx.quick)
    return ExtractorConfig(
        sampler=sampler,
        sampler_params=params_of(quick),
        channels=channels,
        grid=grid,
        flow=FlowConfig(algorithm=flow),
        size=size if size is not None else (64 if quick else 120),
        max_frames=max_frames if max_frames is not None else (48 if quick else None),
        stride=stride,
        max_descriptors=max_descriptors if max_descriptors is not None else (
            2000 if quick else 20000),
        seed=ctx.seed,
    )


def _run_siblings(name: str, ctx: MethodContext) -> tuple[ExtractorConfig, ...]:
    """The extractor configurations of the run's other classical methods (``ctx.run_methods``),
    extracted in the same pass over each video as this method's
    (:func:`baselines.extraction.extract_videos`)."""
    siblings = []
    for other, params in (ctx.run_methods or {}).items():
        if other == name or other not in _SPECS:
            continue
        chosen = {k: v for k, v in (params or {}).items() if k in _EXTRACTOR_PARAMS}
        try:
            siblings.append(_extractor(other, ctx, **chosen))
        except (TypeError, ValueError):
            continue  # its own factory reports the bad parameter; nothing to share
    return tuple(siblings)


def _build(name: str, ctx: MethodContext, *, flow: str = "farneback",
           size: int | None = None, max_frames: int | None = None, stride: int = 1,
           n_words: int | None = None, n_components: int | None = None,
           max_descriptors: int | None = None, C_grid: tuple | None = None,
           backend: str | None = None, scheduler: str | None = None) -> ClassicalVideoClassifier:
    encoding = _SPECS[name][4]
    quick = bool(ctx.quick)
    extractor = _extractor(name, ctx, flow=flow, size=size, max_frames=max_frames,
                           stride=stride, max_descriptors=max_descriptors)
    options = ctx.options or {}
    return ClassicalVideoClassifier(
        co_extract=_run_siblings(name, ctx),
        extractor=extractor,
        encoding=encoding,
        n_words=n_words if n_words is not None else (64 if quick else 4000),
        n_components=n_components if n_components is not None else (16 if quick else 256),
        C_grid=tuple(C_grid) if C_grid is not None else ((1.0, 10.0) if quick
                                                         else (0.1, 1.0, 10.0, 100.0)),
        n_classes=len(ctx.classes) if ctx.classes else 2,
        n_jobs=max(1, int(ctx.jobs)),
        backend=backend or options.get("backend", "joblib"),
        scheduler=scheduler or options.get("scheduler"),
        cache_dir=str(ctx.cache_dir) if ctx.cache_dir is not None else None,
        progress=bool(ctx.progress),
        random_state=ctx.seed,
    )


def _protocol(name: str, flow: str = "farneback") -> str:
    sampler, params_of, channels, grid, encoding = _SPECS[name]
    flow_text = FlowConfig(algorithm=flow).describe() if any(
        c in ("hof", "mbhx", "mbhy", "traj") for c in channels) else "no optical flow"
    where = {
        "dense": ("dense spatial grid on every frame (18-51 px, 50% overlap)"
                  if grid == "dalal_triggs" else
                  "dense space-time grid (Wang et al. BMVC 2009: 18-51 px, 10/20 frames, "
                  "50% overlap)"),
        "harris3d": "Harris3D interest points (Laptev 2005; sigma^2 in {4, 8}, tau^2 in "
                    "{2, 4}, k = 0.005)",
        "trajectories": "dense trajectories (W = 5 px, L = 15 frames, median-filtered flow, "
                        "static/erratic tracks removed, one spatial scale)",
    }[sampler]
    cells = {"dalal_triggs": "one frame, 3x3 cells, 9 unsigned bins, L2",
             "laptev": "3x3x2 cells, L2", "densetrack": "2x2x3 cells, RootSIFT"}[grid]
    enc = ("bag of words (k-means, 4000 words per channel, at most 20 per training video), "
           "multichannel chi2 SVM" if encoding == "bow" else
           "PCA to D/2 + improved Fisher vectors (256 GMM components), linear SVM")
    return (f"{where}; descriptors {'/'.join(channels)} ({cells}); {enc}; {flow_text}; "
            "frames resized to 120 px short side; SVM C chosen by CV on the training set; "
            "one score per video")


_CARDS = [
    ("hog_bow_svm", "HOG + BoW + chi2 SVM", 2005, _DOI["dalal"],
     "appearance only: per-frame dense HOG, bag of words, chi2 SVM"),
    ("hof_bow_svm", "HOF + BoW + chi2 SVM", 2008, _DOI["laptev"],
     "motion only: dense HOF on Farneback flow, bag of words, chi2 SVM"),
    ("hoghof_bow_svm", "HOG/HOF + BoW + multichannel chi2 SVM", 2008, _DOI["laptev"],
     "Laptev et al. HOG/HOF on a dense grid, 4000-word BoW, multichannel chi2 SVM"),
    ("stip_hoghof_bow_svm", "STIP HOG/HOF + BoW + multichannel chi2 SVM", 2008,
     _DOI["laptev"] + "; I. Laptev, \"On space-time interest points\", IJCV 64 2005, "
     "doi:10.1007/s11263-005-1838-7",
     "HOG/HOF at Harris3D interest points, BoW, multichannel chi2 SVM"),
    ("dense_mbh_fv_svm", "MBH + Fisher vectors + linear SVM", 2013, _DOI["wang13"]
     + "; F. Perronnin, J. Sánchez, T. Mensink, \"Improving the Fisher kernel\", ECCV 2010, "
     "doi:10.1007/978-3-642-15561-1_11",
     "dense MBH, PCA + Fisher vectors, linear SVM"),
    ("dt_hoghofmbh_fv_svm", "dense trajectories + Fisher vectors + linear SVM", 2013,
     _DOI["wang13"], "dense trajectories with traj/HOG/HOF/MBH, Fisher vectors, linear SVM"),
]


def _register_all() -> None:
    for name, family, year, paper, description in _CARDS:
        card = MethodCard(name=name, track="classical", family=family, year=year,
                          paper=paper, protocol=_protocol(name), params=None,
                          flops_per_clip=None, description=description)

        def factory(ctx: MethodContext, _name: str = name, **params: Any):
            return _build(_name, ctx, **params)

        register_method(card, factory, flow="farneback")


_register_all()


def _register_detection() -> None:
    """The classical temporal detector (:mod:`baselines.detection`), task ``detection``."""
    from baselines.detection import SLIDING_WINDOW_DETECTOR_CARD, build_sliding_window_detector

    register_method(SLIDING_WINDOW_DETECTOR_CARD, build_sliding_window_detector)


_register_detection()


def _register_localization() -> None:
    """The classical localizer (:mod:`baselines.localization`) and OpenCV's pretrained HOG
    people detector (:mod:`baselines.opencv_people`), task ``localization``."""
    from baselines.localization import HOG_TUBES_CARD, build_hog_tubes
    from baselines.opencv_people import OPENCV_PEOPLE_CARD, build_opencv_people

    register_method(HOG_TUBES_CARD, build_hog_tubes)
    register_method(OPENCV_PEOPLE_CARD, build_opencv_people)


_register_localization()
