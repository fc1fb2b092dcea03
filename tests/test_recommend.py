"""The strategy recommender: few images freeze the network, more images and unusual images unfreeze more."""

from tlcore.recommend import recommend


def test_few_images_mean_feature_extraction_and_fast_training_on_a_cpu():
    rec = recommend({"a": 12, "b": 30}, natural=0.6, num_stages=7, gpu=False)
    assert (rec.trainable_stages, rec.augment) == (0, "none")
    assert "12 training images" in rec.reason and "60%" in rec.reason


def test_more_images_and_unusual_images_train_more_stages():
    photo = recommend({"a": 100, "b": 120}, natural=0.6, num_stages=7, gpu=True)
    xray = recommend({"a": 100, "b": 120}, natural=0.1, num_stages=7, gpu=True)
    assert 0 < photo.trainable_stages < xray.trainable_stages
    big = recommend({"a": 5000, "b": 4000}, natural=0.1, num_stages=7, gpu=True)
    assert big.trainable_stages == 7 and big.augment == "light"


def test_unknown_naturalness_is_not_claimed():
    rec = recommend({"a": 100, "b": 100}, natural=None, num_stages=5, gpu=True)
    assert "not measured" in rec.reason and "confidence" not in rec.reason
    assert rec.naturalness is None
