"""VideoClassifier: learning, determinism, resume, weights, failures, validation split,
the sklearn estimator API, and a decision_function without side effects."""

from __future__ import annotations

import copy
import inspect
import warnings

import numpy as np
import pytest
import torch
from _moving_square import make_dataset
from sklearn.base import clone, is_classifier
from torch import nn

from deep.checkpoint import CHECKPOINT_NAME, Checkpoint
from deep.early_stopping import EarlyStopping, validation_split
from deep.train import VideoClassifier, WeightsMismatchError, load_weights


class TinyVideoNet(nn.Module):
    """Conv3d -> GroupNorm -> ReLU -> global max pool -> Linear (no batch statistics)."""

    def __init__(self, num_classes: int, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(3, width, kernel_size=3, padding=1, stride=(1, 2, 2)),
            nn.GroupNorm(2, width),
            nn.ReLU(),
            nn.Conv3d(width, width, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.AdaptiveMaxPool3d(1),
        )
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x).flatten(1)))


def tiny(num_classes: int) -> nn.Module:
    return TinyVideoNet(num_classes)


FAST = dict(model=tiny, clip_len=6, frame_interval=2, crop_size=24, short_side=24,
            batch_size=6, epochs=4, lr=3e-3, clips_per_video=2, val_fraction=0.0, test_clips=2,
            allow_flip=False, warmup_epochs=0.5)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("squares")
    train = make_dataset(root / "train", 6, seed=1)
    test = make_dataset(root / "test", 3, seed=2)
    return train, test, root


def test_learns_direction_and_is_deterministic(videos, tmp_path):
    (xtr, ytr), (xte, yte), _ = videos
    a = VideoClassifier(**FAST, cache_dir=tmp_path / "c").fit(xtr, ytr)
    scores = a.decision_function(xte)
    assert scores.shape == (len(xte), 3) and np.isfinite(scores).all()
    np.testing.assert_allclose(np.exp(scores).sum(1), 1.0, rtol=1e-5)  # log-probabilities
    acc = (scores.argmax(1) == yte).mean()
    assert acc > 1 / 3 + 0.2, f"accuracy {acc:.2f} not above chance"
    b = VideoClassifier(**FAST, cache_dir=tmp_path / "c").fit(xtr, ytr)
    np.testing.assert_array_equal(scores, b.decision_function(xte))
    c = VideoClassifier(**{**FAST, "random_state": 1}, cache_dir=tmp_path / "c").fit(xtr, ytr)
    assert not np.array_equal(scores, c.decision_function(xte))
    assert a.cost_["params"] == sum(p.numel() for p in a.model_.parameters())
    assert a.cost_["train_time_s"] > 0 and a.cost_["epochs_run"] == 4
    assert len(a.history_) == 4
    # channels_last="auto" is on for 3D convolutions on the CPU too; the repeat above is
    # bit-identical with it
    assert a.channels_last_ and a.model_.features[0].weight.is_contiguous(
        memory_format=torch.channels_last_3d)


def test_resume_after_interruption_gives_the_same_weights(videos, tmp_path, monkeypatch):
    (xtr, ytr), _, _ = videos
    params = dict(FAST, epochs=3, val_fraction=0.0, cache_dir=tmp_path / "c")
    full = VideoClassifier(**params, work_dir=tmp_path / "full").fit(xtr, ytr)

    original = Checkpoint.save

    class Interrupted(Exception):
        pass

    def stop_after_first(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if kwargs["state"]["epoch"] == 1:
            raise Interrupted

    monkeypatch.setattr(Checkpoint, "save", stop_after_first)
    with pytest.raises(Interrupted):
        VideoClassifier(**params, work_dir=tmp_path / "cut").fit(xtr, ytr)
    monkeypatch.setattr(Checkpoint, "save", original)
    first_epoch = torch.load(tmp_path / "cut" / CHECKPOINT_NAME, weights_only=True)["history"][0]
    torch.manual_seed(12345)  # resumption must not depend on the global RNG state
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checkpoint fits: no "training from scratch"
        resumed = VideoClassifier(**params, work_dir=tmp_path / "cut").fit(xtr, ytr)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    assert resumed.history_[0] == first_epoch  # epoch 1 came from the checkpoint
    for key, value in full.model_.state_dict().items():
        torch.testing.assert_close(resumed.model_.state_dict()[key], value, rtol=0, atol=0)


def test_early_stopping_with_a_grouped_validation_split(videos, tmp_path):
    (xtr, ytr), _, _ = videos
    groups = np.arange(len(ytr)) % 3
    est = VideoClassifier(**dict(FAST, epochs=6, val_fraction=0.34, patience=1, lr=1e-9),
                          min_val_videos=1, cache_dir=tmp_path / "c")
    est.fit(xtr, ytr, groups=groups)
    assert "val_acc" in est.history_[0]
    assert 0 < est.budget_["validation_videos"] < len(ytr)
    # with a vanishing learning rate nothing improves: patience 1 stops after epoch 2
    assert len(est.history_) == 2 and est.best_epoch_ == 1
    # the resolved budget, which the report judges convergence against
    assert est.budget_["epochs"] == 6 and est.budget_["patience"] == 1
    assert est.budget_["validation"] is True
    assert est.budget_["steps"] == 6 * est.budget_["steps_per_epoch"]


def test_a_validation_split_below_the_minimum_is_trained_on(videos, tmp_path):
    (xtr, ytr), _, _ = videos
    groups = np.arange(len(ytr)) % 3
    # one held-out group of a third of the videos, fewer than the default 20
    est = VideoClassifier(**dict(FAST, epochs=2, val_fraction=0.34, patience=1),
                          cache_dir=tmp_path / "c").fit(xtr, ytr, groups=groups)
    assert len(ytr) // 3 < 20
    assert est.budget_["validation"] is False and est.budget_["validation_videos"] == 0
    assert all("val_acc" not in h for h in est.history_) and len(est.history_) == 2
    with pytest.raises(ValueError, match="min_val_videos"):
        VideoClassifier(min_val_videos=0).fit(xtr, ytr)


def test_validation_split_minimum_size():
    y = np.repeat([0, 1], 8)
    groups = np.tile(np.arange(4), 4)  # 4 groups of 4 videos
    train, val = validation_split(y, groups, 0.25, seed=0, min_size=4)
    assert len(val) == 4 and len(train) == 12
    train, val = validation_split(y, groups, 0.25, seed=0, min_size=5)
    assert len(val) == 0 and len(train) == 16


def test_validation_split_is_stratified_and_keeps_groups_apart():
    y = np.repeat([0, 1, 2], 12)
    groups = np.tile(np.arange(6), 6)
    train, val = validation_split(y, groups, 0.2, seed=0)
    assert set(groups[train]).isdisjoint(groups[val])
    assert set(y[val]) == {0, 1, 2}
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(y)
    train, val = validation_split(y, None, 0.25, seed=0)
    np.testing.assert_array_equal(np.bincount(y[val]), [3, 3, 3])
    # one video of a class: no validation split at all
    train, val = validation_split(np.array([0, 0, 1]), None, 0.3, seed=0)
    assert len(val) == 0 and len(train) == 3


def test_undecodable_video_is_dropped_and_gets_nan_row(videos, tmp_path):
    (xtr, ytr), (xte, _), root = videos
    broken = root / "broken.avi"
    broken.write_bytes(b"not a video at all")
    xtr2 = np.append(xtr, str(broken)).astype(object)
    ytr2 = np.append(ytr, 0)
    est = VideoClassifier(**dict(FAST, epochs=1), cache_dir=tmp_path / "c").fit(xtr2, ytr2)
    assert [f.stage for f in est.failures_] == ["decode"]
    assert est.failures_[0].video == str(broken)
    scores = est.decision_function(np.array([xte[0], str(broken), str(root / "missing.avi")],
                                            dtype=object))
    assert np.isfinite(scores[0]).all() and np.isnan(scores[1:]).all()
    assert len(est.failures_) == 3
    assert est.predict(np.array([str(broken)], dtype=object)).tolist() == [-1]


def test_num_classes_gives_a_column_for_an_absent_class(videos, tmp_path):
    (xtr, ytr), (xte, _), _ = videos
    keep = ytr < 2
    est = VideoClassifier(**dict(FAST, epochs=1, num_classes=3), cache_dir=tmp_path / "c")
    assert est.fit(xtr[keep], ytr[keep]).decision_function(xte[:2]).shape == (2, 3)


def test_weights_load_and_clear_errors(tmp_path):
    model = TinyVideoNet(3)
    good = tmp_path / "good.pt"
    torch.save(model.state_dict(), good)
    fresh = TinyVideoNet(3)
    load_weights(fresh, good, num_classes=3)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)

    partial = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    partial["extra.weight"] = torch.zeros(2)
    bad = tmp_path / "partial.pt"
    torch.save(partial, bad)
    with pytest.raises(WeightsMismatchError) as err:
        load_weights(TinyVideoNet(3), bad, num_classes=3)
    message = str(err.value)
    assert "missing keys (2): fc.bias, fc.weight" in message
    assert "unexpected keys (1): extra.weight" in message

    other_head = tmp_path / "five.pt"
    torch.save(TinyVideoNet(5).state_dict(), other_head)
    with pytest.raises(WeightsMismatchError, match=r"shape mismatch fc.weight: file \(5, 8\)"):
        load_weights(TinyVideoNet(3), other_head, num_classes=3)
    target = TinyVideoNet(3)
    head_before = target.fc.weight.detach().clone()
    info = load_weights(target, other_head, num_classes=3, reinit_head=True)
    assert sorted(info["skipped_head"]) == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(target.fc.weight, head_before)
    torch.testing.assert_close(target.features[0].weight,
                               torch.load(other_head, weights_only=True)["features.0.weight"])
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        load_weights(TinyVideoNet(3), tmp_path / "nope.pt", num_classes=3)


def test_weights_parameter_starts_training_from_the_file(videos, tmp_path):
    (xtr, ytr), (xte, _), _ = videos
    first = VideoClassifier(**dict(FAST, epochs=1), cache_dir=tmp_path / "c").fit(xtr, ytr)
    path = tmp_path / "w.pt"
    torch.save(first.model_.state_dict(), path)
    # one epoch at lr ~ 0 from the file reproduces the file's predictions
    again = VideoClassifier(**dict(FAST, epochs=1, lr=1e-12, weights=str(path)),
                            cache_dir=tmp_path / "c").fit(xtr, ytr)
    np.testing.assert_allclose(again.decision_function(xte), first.decision_function(xte),
                               atol=1e-5)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="'optimizer' parameter of VideoClassifier"):
        VideoClassifier(model=tiny, optimizer="adam").fit(np.array(["a"], dtype=object), [0])
    with pytest.raises(ValueError, match="'epochs'"):
        VideoClassifier(model=tiny, epochs=0).fit(np.array(["a"], dtype=object), [0])
    with pytest.raises(RuntimeError, match="not fitted"):
        VideoClassifier(model=tiny).decision_function(np.array(["a"], dtype=object))


def test_sgd_and_bf16_autocast_on_cpu_train(videos, tmp_path):
    (xtr, ytr), (xte, _), _ = videos
    est = VideoClassifier(**dict(FAST, epochs=1, optimizer="sgd", precision="bf16",
                                 channels_last=True), cache_dir=tmp_path / "c").fit(xtr, ytr)
    assert est.precision_ == "bf16" and est.channels_last_
    assert np.isfinite(est.decision_function(xte)).all()


# ------------------------------------------------------------------ sklearn estimator API
def test_parameters_come_from_init_and_clone_gives_an_unfitted_copy(videos, tmp_path):
    names = list(inspect.signature(VideoClassifier.__init__).parameters)[1:]
    assert sorted(VideoClassifier().get_params()) == sorted(names)  # deep/methods.py checks these
    assert is_classifier(VideoClassifier())
    est = VideoClassifier(**dict(FAST, epochs=1), cache_dir=tmp_path / "c")
    assert est.set_params(lr=0.5) is est and est.lr == 0.5
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        est.set_params(nope=1)
    (xtr, ytr), _, _ = videos
    fitted = VideoClassifier(**dict(FAST, epochs=1, model_overrides={"width": 8}),
                             cache_dir=tmp_path / "c").fit(xtr, ytr)
    twin = clone(fitted)
    assert twin is not fitted and not hasattr(twin, "model_")
    assert twin.get_params() == fitted.get_params()
    assert twin.model_overrides is not fitted.model_overrides  # no shared mutable parameter
    assert [k for k in vars(twin) if k.endswith("_")] == []


def test_decision_function_changes_no_attribute(videos, tmp_path):
    (xtr, ytr), (xte, _), _ = videos
    est = VideoClassifier(**dict(FAST, epochs=1, val_fraction=0.0), cache_dir=tmp_path / "c")
    est.fit(xtr, ytr)
    before = dict(vars(est))
    plain = copy.deepcopy({k: v for k, v in before.items() if k not in ("model_", "cache_")})
    weights = {k: v.clone() for k, v in est.model_.state_dict().items()}
    mode = [m.training for m in est.model_.modules()]
    first = est.decision_function(xte)
    est.predict(xte)
    after = vars(est)
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)  # no attribute rebound
    assert {k: after[k] for k in plain} == plain  # nor changed in place (cost_, history_, ...)
    assert [m.training for m in est.model_.modules()] == mode
    for key, value in est.model_.state_dict().items():
        assert torch.equal(value, weights[key])
    np.testing.assert_array_equal(est.decision_function(xte), first)


# ----------------------------------------------------------- early stopping, checkpoint
def test_early_stopping_keeps_the_best_and_counts_patience():
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    assert stopper.update([0.5, 1.0], 1, model)
    best = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not stopper.update([0.5, 1.0 - 1e-5], 2, model)  # within min_delta: no gain
    assert not stopper.stopped
    again = EarlyStopping(patience=2)
    again.load_state_dict(stopper.state_dict())  # what a checkpoint carries
    assert not again.update([0.4, 0.1], 3, model) and again.stopped
    assert again.best_epoch == 1
    again.restore_best(model)
    torch.testing.assert_close(model.state_dict()["weight"], best["weight"], rtol=0, atol=0)
    assert EarlyStopping(patience=None).update([0.0, 9.0], 1, model)


def test_checkpoint_of_another_run_is_ignored_with_a_warning(tmp_path):
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    Checkpoint(tmp_path, "run-a").save(model, opt, sched, scaler, history=[{"epoch": 1}],
                                       state={"epoch": 1})
    history, state = Checkpoint(tmp_path, "run-a").resume(model, opt, sched, scaler)
    assert history == [{"epoch": 1}] and state == {"epoch": 1}
    with pytest.warns(UserWarning, match="training from scratch"):
        assert Checkpoint(tmp_path, "run-b").resume(model, opt, sched, scaler) is None
    assert Checkpoint(None, "run-a").resume(model, opt, sched, scaler) is None
