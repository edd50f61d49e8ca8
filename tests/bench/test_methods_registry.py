"""bench.methods: the registry, the card, and the chance reference method."""

from __future__ import annotations

import numpy as np
import pytest

from bench.methods import (
    ChanceClassifier,
    MethodCard,
    MethodContext,
    build_method,
    get_method,
    list_methods,
    register_method,
)


def test_chance_is_registered_and_seeded():
    names = [c.name for c in list_methods()]
    assert "chance" in names
    paths = np.array([f"v{i}.avi" for i in range(50)], dtype=object)
    y = np.repeat(np.arange(5), 10)
    a = build_method("chance", MethodContext(seed=3)).fit(paths, y).decision_function(paths)
    b = build_method("chance", MethodContext(seed=3)).fit(paths, y).decision_function(paths)
    c = build_method("chance", MethodContext(seed=4)).fit(paths, y).decision_function(paths)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (50, 5)


def test_chance_follows_the_training_prior():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(900, int), np.ones(100, int)]
    paths = np.array([str(i) for i in range(4000)], dtype=object)
    clf = ChanceClassifier(random_state=int(rng.integers(1000))).fit(paths[:1000], y)
    picks = clf.decision_function(paths).argmax(axis=1)
    share = (picks == 1).mean()
    assert 0.07 < share < 0.13  # 4000 draws of p = 0.1: 4.4 standard errors either side


def test_unknown_method_lists_known_names():
    with pytest.raises(KeyError, match="chance"):
        get_method("no_such_method")


def test_register_rejects_unknown_track():
    card = MethodCard(name="x", track="quantum", family="", year=2000, paper="")
    with pytest.raises(ValueError, match="track"):
        register_method(card, lambda ctx: None)


def test_list_methods_pattern_and_order():
    cards = list_methods()
    years = [c.year for c in cards]
    assert years == sorted(years)
    assert [c.name for c in list_methods("chan*")] == ["chance"]


def test_every_card_has_a_known_task_and_the_registry_filters_by_it():
    from bench.methods import TASKS

    cards = list_methods()
    assert cards and all(card.task in TASKS for card in cards)
    assert list_methods(task="recognition") == [c for c in cards if c.task == "recognition"]
    assert list_methods(task="no-such-task") == []


def test_register_rejects_an_unknown_task():
    card = MethodCard(name="bad_task", track="reference", family="x", year=2000, paper="p",
                      task="dance")
    with pytest.raises(ValueError, match="task must be one of recognition"):
        register_method(card, lambda ctx: ChanceClassifier())
    with pytest.raises(KeyError):
        get_method("bad_task")


def test_run_config_refuses_an_unknown_task():
    from bench.run.config import RunConfig, RunConfigError

    assert RunConfig().task == "recognition"
    with pytest.raises(RunConfigError, match="task must be one of"):
        RunConfig(task="dance")
