"""The default text recipe (tlcore.training.text_recipe): class names join the training examples only
when they mean something to the encoder; its logistic regression becomes a linear head exactly; and a
text run with default settings trains and saves that recipe, which predict computes."""

import json

import numpy as np
import pytest
import torch
from text_fixtures import UNSEEN, train

from tlcore.data.dataset import Dataset
from tlcore.models.bundle import load_bundle
from tlcore.models.catalog import get_spec
from tlcore.models.text_net import text_tokenizer
from tlcore.rundir import RunDir
from tlcore.training.text_recipe import (NAME_EXAMPLES, fit_text_recipe, name_features, out_of_fold, recipe_head,
                                         with_class_names)
from tlcore.training.text_inputs import TEXT_MODEL
from tlcore.use.predict import temperature_of
from tlcore.use.predict_text import TextPredictor


def _clusters(seed: int = 0, classes: int = 3):
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(16, classes)))[0].T  # orthonormal directions
    y = np.repeat(np.arange(classes), 5)
    e = centres[y] + 0.3 * rng.normal(size=(len(y), 16))
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


@pytest.mark.parametrize("classes", [2, 3])
def test_the_linear_head_gives_the_recipes_probabilities(classes):
    """softmax(Wx + b) is the fitted logistic regression, for two classes (one logit) as for more."""
    e, y, centres = _clusters(classes=classes)
    weight, bias = recipe_head(torch.from_numpy(e).float(), torch.from_numpy(y), torch.from_numpy(centres).float(),
                               classes)
    expected = fit_text_recipe(e.astype(np.float32), y, centres.astype(np.float32)).predict_proba(e)
    probabilities = (torch.from_numpy(e).float() @ weight.T + bias).softmax(1).numpy()
    assert weight.shape == (classes, 16) and np.abs(probabilities - expected).max() < 1e-5


def test_a_class_missing_from_a_fold_is_never_its_answer_unless_its_name_joins():
    e, y, centres = _clusters()
    x, labels = torch.from_numpy(e).float(), torch.from_numpy(y)
    weight, bias = recipe_head(x[labels != 2], labels[labels != 2], None, 3)
    assert (weight[2] == 0).all() and ((x @ weight.T + bias).argmax(1) != 2).all()
    names = torch.from_numpy(centres).float()  # with names that mean something, it learns from its name
    weight, bias = recipe_head(x[labels != 2], labels[labels != 2], names, 3)
    assert ((names @ weight.T + bias).argmax(1) == torch.arange(3)).all()
    folds = [np.arange(0, 15, 3), np.arange(1, 15, 3), np.arange(2, 15, 3)]
    logits = out_of_fold(x, labels, None, 3, folds)
    assert logits.shape == (15, 3) and (logits.argmax(1) == labels).float().mean() > 0.8


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``python -m tlcore train --data reviews.csv`` with every choice left to the studio."""
    return RunDir(train(tmp_path_factory, "recipe"))


@pytest.mark.slow
def test_a_default_text_run_saves_the_recipe_fitted_on_its_features(run):
    """The saved head is the recipe refitted here on the run's training texts (the encoder's
    features by PyTorch, where the run's came from ONNX Runtime: equal within 1e-4), with the
    class names; the run reports its one fit as one epoch."""
    cfg = run.record().config
    assert (cfg.model, cfg.trainable_stages) == (TEXT_MODEL, 0)
    assert [(e.epoch, e.epochs) for e in run.epochs()] == [(1, 1)]
    net, meta = load_bundle(run.bundle_path)
    items = Dataset.load(run.dataset_path).subset("train")
    texts = json.loads((run.path / "texts.json").read_text(encoding="utf-8"))
    tokenizer = text_tokenizer(get_spec(TEXT_MODEL))
    with torch.no_grad():
        x = net.backbone(tokenizer([texts[i.path] for i in items]).ids)
        names = name_features(net.backbone, tokenizer, meta["classes"])
    y = torch.tensor([meta["classes"].index(i.label) for i in items])
    weight, bias = recipe_head(x, y, names, len(meta["classes"]))
    saved = net.head[-1]
    assert not net.normalised and torch.allclose(saved.weight, weight, atol=2e-3)
    assert torch.allclose(saved.bias, bias, atol=2e-3)
    # predict (and so the ONNX file and the card, which tests/test_text_export.py holds to predict)
    # gives the recipe's probabilities, sharpened or softened by the calibration temperature only
    with torch.no_grad():
        features = net.backbone(tokenizer(UNSEEN).ids)
    recipe = fit_text_recipe(x.numpy(), y.numpy(), names.numpy())
    expected = (torch.from_numpy(np.log(recipe.predict_proba(features.numpy()))) / temperature_of(meta)).softmax(1)
    assert torch.allclose(TextPredictor(run.bundle_path).probabilities(UNSEEN), expected.float(), atol=1e-3)
