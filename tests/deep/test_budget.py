"""The training budget: stated in steps with bounds, resolved from the amount of data."""

from __future__ import annotations

import pytest

from deep.budget import resolve_budget
from deep.methods import budget_rule, training_config


def _resolve(recipe: dict, n_videos: int):
    """The budget a recipe resolves to on ``n_videos`` training videos (one clip each)."""
    return resolve_budget(n_videos * recipe["clips_per_video"], recipe["batch_size"],
                          recipe["epochs"], min_steps=recipe.get("min_steps"),
                          max_steps=recipe.get("max_steps"),
                          warmup_epochs=recipe["warmup_epochs"], patience=recipe["patience"])


@pytest.mark.parametrize("method", ["c3d", "i3d", "r2plus1d_18", "timesformer"])
def test_a_recipe_resolves_to_the_same_steps_for_the_same_data(method):
    recipe = training_config(method)
    assert _resolve(recipe, 700) == _resolve(recipe, 700)


@pytest.mark.parametrize("method", ["c3d", "i3d", "mc3_18", "r3d_18", "r2plus1d_18"])
def test_less_data_trains_for_more_epochs_and_at_least_the_floor(method):
    recipe = training_config(method)
    small, large = _resolve(recipe, 28), _resolve(recipe, 713)
    assert small.epochs > large.epochs
    assert small.bound == "min_steps" and small.steps >= recipe["min_steps"]
    # the floor is met in whole epochs: no more than one epoch above it
    assert small.steps - recipe["min_steps"] < small.steps_per_epoch
    assert small.patience > recipe["patience"]  # patience stretches with the epochs


def test_a_large_dataset_is_capped_in_steps_not_in_epochs():
    recipe = training_config("c3d")
    huge = _resolve(recipe, 100_000)
    assert huge.bound == "max_steps"
    assert huge.steps - recipe["max_steps"] < huge.steps_per_epoch
    assert huge.epochs < recipe["epochs"]


def test_without_a_binding_bound_the_recipe_is_unchanged():
    budget = resolve_budget(713, 16, 14, min_steps=300, max_steps=4000, warmup_epochs=0.5,
                            patience=4)
    assert budget.bound == "none"
    assert (budget.epochs, budget.steps_per_epoch, budget.steps) == (14, 45, 630)
    assert budget.warmup_steps == round(0.5 * 45) and budget.patience == 4
    assert budget.patience_steps == 4 * 45


def test_the_schedule_keeps_its_shape_when_stretched():
    nominal = resolve_budget(713, 16, 14, warmup_epochs=0.5, patience=4)
    stretched = resolve_budget(28, 16, 14, min_steps=300, warmup_epochs=0.5, patience=4)
    assert stretched.warmup_steps / stretched.steps == pytest.approx(
        nominal.warmup_steps / nominal.steps, rel=0.1)
    assert stretched.patience / stretched.epochs == pytest.approx(4 / 14, rel=0.1)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(n_clips=0, batch_size=16, epochs=3), "must be >= 1"),
    (dict(n_clips=10, batch_size=16, epochs=3, min_steps=50, max_steps=10), "must not exceed"),
])
def test_bad_budgets_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resolve_budget(**kwargs)


def test_the_card_states_the_rule():
    rule = budget_rule(training_config("c3d"))
    recipe = training_config("c3d")
    assert f"at least {recipe['min_steps']}" in rule and f"at most {recipe['max_steps']}" in rule
    assert f"{recipe['epochs']} epochs of {recipe['batch_size']} clips" in rule
