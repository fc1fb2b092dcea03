"""The strategy recommender: few images freeze the network, more images and unusual images unfreeze more."""

import pytest

from tlcore.config import TrainConfig
from wording import line
from tlcore.errors import TLError
from tlcore.training.recommend import CHOSE_STAGES, CV_HOW, CV_NEEDS_FROZEN, SMALLEST, choose_evaluation, recommend


def test_few_images_mean_feature_extraction_and_fast_training_on_a_cpu():
    rec = recommend({"a": 12, "b": 30}, natural=0.6, num_stages=7, gpu=False)
    assert (rec.trainable_stages, rec.augment) == (0, "none")
    assert SMALLEST.format(smallest=12) in rec.reason and "60%" in rec.reason


def test_more_images_and_unusual_images_train_more_stages():
    photo = recommend({"a": 100, "b": 120}, natural=0.6, num_stages=7, gpu=True)
    xray = recommend({"a": 100, "b": 120}, natural=0.1, num_stages=7, gpu=True)
    assert 0 < photo.trainable_stages < xray.trainable_stages
    big = recommend({"a": 5000, "b": 4000}, natural=0.1, num_stages=7, gpu=True)
    assert big.trainable_stages == 7 and big.augment == "light"


def test_a_processor_keeps_the_network_frozen_up_to_100_images_a_class_where_a_graphics_card_fine_tunes():
    cpu = recommend({"a": 50, "b": 60}, natural=0.1, num_stages=7, gpu=False)
    assert (cpu.trainable_stages, cpu.augment) == (0, "none") and "processor" in cpu.reason
    assert recommend({"a": 50, "b": 60}, natural=0.1, num_stages=7, gpu=True).trainable_stages == 2
    assert recommend({"a": 100, "b": 120}, natural=0.1, num_stages=7, gpu=False).trainable_stages == 2


def test_unknown_naturalness_is_not_claimed():
    rec = recommend({"a": 100, "b": 100}, natural=None, num_stages=5, gpu=True)
    assert "not measured" in rec.reason and "confidence" not in rec.reason
    assert rec.naturalness is None


def test_auto_augmentation_follows_the_depth_the_user_chose():
    # 20 images a class on a CPU: the recommendation is a frozen network without augmentation ...
    assert recommend({"a": 20, "b": 25}, natural=0.6, num_stages=7, gpu=False).augment == "none"
    # ... but a user who trains 3 stages gets the augmentation that fine-tuning on few images needs
    chosen = recommend({"a": 20, "b": 25}, natural=0.6, num_stages=7, gpu=False, chosen_stages=3)
    assert (chosen.trainable_stages, chosen.augment) == (3, "strong")
    assert CHOSE_STAGES.format(stages=3, smallest=20) in chosen.reason


@pytest.mark.parametrize("counts,frozen,given_val,expected", [
    ({"a": 15, "b": 15}, True, False, "cv"),       # small data, frozen: every image scored out of fold
    ({"a": 15, "b": 15}, False, False, "holdout"),  # fine-tuning keeps a validation split
    ({"a": 15, "b": 15}, True, True, "holdout"),    # the user's own val/ folder is respected
    ({"a": 500, "b": 400}, True, False, "holdout"),  # plenty of images: a split is stable enough
])
def test_the_recommender_decides_how_the_score_is_measured(counts, frozen, given_val, expected):
    rec = recommend(counts, natural=0.6, num_stages=7, gpu=False)
    out = choose_evaluation(rec, TrainConfig(data="x"), frozen, counts, given_val)
    assert out.evaluation == expected
    assert (CV_HOW.format(images=sum(counts.values()), k=5) in out.reason) == (expected == "cv")


def test_cross_validation_cannot_be_forced_on_a_network_that_learns():
    rec = recommend({"a": 15, "b": 15}, natural=0.6, num_stages=7, gpu=False)
    with pytest.raises(TLError, match=line(CV_NEEDS_FROZEN)):
        choose_evaluation(rec, TrainConfig(data="x", evaluation="cv"), False, {"a": 15, "b": 15}, False)


def test_the_strategy_pages_confidence_is_the_one_the_run_records(workspace_run):
    """The pretrained model's confidence on the images, as the Strategy page's Plan measures it before
    the run, is the run's own: the same images (natural_sample), at the run's size."""
    from tlcore.rundir import RunDir
    from tlcore.studio import plan

    record = RunDir(workspace_run).record()
    cfg = record.config
    assert cfg.image_size == 64  # read small, far from the model's own 224: a size mismatch would show
    measured = plan(record.requested, "cpu").stats.naturalness
    assert measured == record.recommendation["naturalness"] == record.plan["stats"]["naturalness"]
