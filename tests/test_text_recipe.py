"""The default text recipe: class names join the training examples only when they mean something to
the encoder (tlcore.training.text_recipe)."""

import numpy as np

from tlcore.training.text_recipe import NAME_EXAMPLES, fit_text_recipe, with_class_names


def _clusters(seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(16, 3)))[0].T  # three orthonormal directions
    y = np.repeat(np.arange(3), 5)
    e = centres[y] + 0.3 * rng.normal(size=(15, 16))
    return e / np.linalg.norm(e, axis=1, keepdims=True), y, centres


def test_names_that_mean_something_join_their_classes():
    e, y, centres = _clusters()
    x, labels = with_class_names(e, y, centres)
    assert len(x) == 15 + 3 * NAME_EXAMPLES and np.array_equal(labels[15:], np.tile(np.arange(3), NAME_EXAMPLES))
    assert np.array_equal(fit_text_recipe(e, y, centres).predict(centres), [0, 1, 2])


def test_names_that_mean_nothing_change_nothing():
    e, y, centres = _clusters()
    meaningless = np.roll(centres, 1, axis=0)  # each name nearest another class's examples
    x, labels = with_class_names(e, y, meaningless)
    assert x is e and labels is y
    plain = fit_text_recipe(e, y)
    assert np.allclose(fit_text_recipe(e, y, meaningless).predict_proba(e), plain.predict_proba(e))
