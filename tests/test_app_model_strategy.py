"""The studio's Model and Strategy pages: catalog cards, choosing, the stages figure, settings."""

import pytest
from app_fixtures import charts, goto, studio, texts

from pages import ui
from tlcore.models.catalog import list_specs
from tlcore.models.net import availability
from tlcore.training.recommend import recommend
from tlcore.rundir import RunDir
from tlcore.jobs.runs import title_of


def test_the_model_page_shows_a_card_for_every_catalog_entry_with_its_availability():
    at = studio("model")
    assert not at.exception and not at.error
    specs = list_specs()
    titles = [h.value for h in at.subheader]
    assert all(any(t.startswith(s.title) for t in titles) for s in specs)
    assert titles[0] == "EfficientNet-Lite1 :material/check_circle:"  # the default is chosen
    shown = texts(at.markdown)
    assert shown.count("**Ready:**") + shown.count("**Weights not on this computer yet**") + shown.count(
        "**Weights missing, and this computer is offline:**") == len(specs)
    assert "weights included, works offline" in shown
    missing = [s for s in specs if availability(s) == "download"]
    downloads = [b.label for b in at.button if b.label.startswith("Download weights")]
    assert len(downloads) == len(missing)
    assert len([u for u in at.file_uploader if u.label == "…or upload the weights file"]) == len(missing)


def test_choosing_a_model_updates_the_cards_and_the_sidebar():
    at = studio("model")
    at.button(key="use_efficientnet_lite0").click()  # a bundled model: its weights are always here
    at.run()
    assert at.session_state[ui.MODEL] == "efficientnet_lite0"
    assert "**Model:** EfficientNet-Lite0" in texts(at.sidebar.markdown)
    assert at.button(key="use_efficientnet_lite0").label == "Chosen" and at.button(key="use_efficientnet_lite0").disabled
    assert not at.button(key="use_efficientnet_lite1").disabled


def test_an_earlier_run_can_be_the_starting_model(workspace_run):
    at = studio("model")
    at.selectbox(key="pick_init_from").set_value(workspace_run)
    at.run()
    assert at.session_state[ui.INIT_FROM] == workspace_run
    assert f"starting from run {title_of(RunDir(workspace_run))})" in texts(at.sidebar.markdown)  # its readable name


def test_strategy_needs_a_dataset_first():
    at = studio("strategy")
    assert "First bring your labelled images on the Data page." in texts(at.info)
    assert at.get("page_link")[0].proto.label == "Go to Data"
    assert not at.slider


def test_strategy_shows_the_stages_and_the_count_of_learning_parameters(digits):
    at = studio("strategy", **{ui.DATASET: digits})
    assert not at.exception and not at.error
    shown = texts(at.info)  # 10 labelled images per class: feature extraction, all of them cross-validated
    assert "Recommended: keep the pretrained network as it is and train only a new last layer." in shown
    assert "every image is used for both training and checking, 5 times over" in shown
    assert "In machine-learning terms: feature extraction; the score comes from k-fold cross-validation." in texts(at.caption)
    assert "The smallest class has 10 images." in shown and "All 100 labelled images train" in shown
    assert at.slider(key="opt_stages").value == 0
    figure = charts(at)["EfficientNet-Lite1, from the image (left) to the answer (right)"]
    bars = figure.data[0]
    assert list(bars.x)[-1] == "new final layer" and len(bars.x) == 8
    assert list(bars.text) == ["frozen"] * 7 + ["learns"]
    head_only = at.metric[0].value
    assert head_only == f"{1280 * 10 + 10:,}"
    at.slider(key="opt_stages").set_value(2).run()
    bars = charts(at)["EfficientNet-Lite1, from the image (left) to the answer (right)"].data[0]
    assert list(bars.text) == ["frozen"] * 5 + ["learns"] * 3
    assert int(at.metric[0].value.replace(",", "")) == sum(bars.y[-3:])
    assert int(at.metric[0].value.replace(",", "")) > int(head_only.replace(",", ""))


@pytest.mark.slow
def test_duration_and_advanced_settings_reach_the_run_configuration(digits):
    epochs = recommend({str(d): 8 for d in range(10)}, None, 7, gpu=False).epochs  # 8 training images per class
    at = studio("strategy", **{ui.DATASET: digits})
    assert f"{epochs} passes over your images (epochs)." in texts(at.caption)
    at.radio(key="opt_duration").set_value("quick").run()
    quick = round(epochs * 0.3)
    assert f"{quick} passes over your images (epochs)." in texts(at.caption)
    labels = {w.label for kind in ("number_input", "selectbox", "checkbox", "slider") for w in at.get(kind)}
    for label in ("Learning rate", "Batch size", "Augmentation", "Early stopping patience (0 = off)",
                  "Balance rare classes", "Label smoothing", "Random seed", "Device", "Starting weights",
                  "Separate test images", "Warm-up epochs", "Weight decay", "Epochs (0 = as chosen above)",
                  "Use the model's own image size", "Let normalisation layers of frozen stages adapt",
                  "Share of images kept for checking (validation)", "Learning-rate factor for pretrained stages"):
        assert label in labels
    at.checkbox(key="image_size_own").uncheck().run()
    size = at.number_input(key="image_size_pixels")
    assert (size.label, size.min, size.max) == ("Image size in pixels", 32, 1024)  # no size a run refuses
    size.set_value(64).run()
    assert not at.error
    goto(at, "train")  # the settings survive the page change and make the run's configuration
    assert f"keeps EfficientNet-Lite1 as it is and trains only a new last layer, **{quick}** epochs, images at 64 pixels" in texts(at.markdown)


def test_a_weights_file_can_stand_in_for_a_download(monkeypatch, tmp_path):
    from safetensors.torch import save_file
    from torchvision.models import get_model

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no torchvision weights on this "computer"
    weights = tmp_path / "regnet.safetensors"
    save_file({k: v.contiguous() for k, v in get_model("regnet_y_400mf").state_dict().items()}, weights)
    upload = ("regnet.safetensors", weights.read_bytes(), "application/octet-stream")
    at = studio("model")
    at.file_uploader(key="weights_regnet_y_400mf").set_value(upload).run()
    at.button(key="check_regnet_y_400mf").click().run()
    assert not at.exception and not at.error
    assert "RegNetY-400MF will start from your file regnet.safetensors." in texts(at.success)
    assert at.session_state["opt_weights"].endswith("regnet.safetensors")
    assert "**Model:** RegNetY-400MF" in texts(at.sidebar.markdown)
    assert ":green[**Ready:** your weights file regnet.safetensors]" in texts(at.markdown)
    at.file_uploader(key="weights_resnet18").set_value(upload).run()
    at.button(key="check_resnet18").click().run()
    assert "This weights file does not fit ResNet" in texts(at.error)


def test_a_model_without_weights_says_so_before_it_is_picked(monkeypatch, tmp_path):
    """Offline, a model whose weights are not here cannot be picked, and its card says how to get them;
    online, it says they download when training starts."""
    import urllib.error
    import urllib.request

    import streamlit as st

    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    def answered(request, timeout):  # the weights' server answers (here with a refusal): online
        raise urllib.error.HTTPError(request.full_url, 403, "Forbidden", {}, None)

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no torchvision weights on this "computer"
    missing = [s for s in list_specs() if s.source == "torchvision"]
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    st.cache_data.clear()  # the studio keeps the answer to "is this computer online?" for a minute
    at = studio("model")
    assert not at.exception and not at.error
    assert texts(at.markdown).count("**Weights missing, and this computer is offline:** to use this model, upload "
                                    "its weights file below") == len(missing) == 9
    use = at.button(key="use_resnet18")
    assert use.disabled and "Upload its weights file first" in use.help
    assert not at.button(key="use_efficientnet_lite0").disabled  # bundled: works offline
    monkeypatch.setattr(urllib.request, "urlopen", answered)
    st.cache_data.clear()
    at = studio("model")
    assert ("**Weights not on this computer yet** (44.7 MB): they download by themselves when training starts"
            in texts(at.markdown))
    assert not at.button(key="use_resnet18").disabled
    st.cache_data.clear()


def test_a_zips_own_test_folder_is_named_under_separate_test_images(fashion_small):
    import io
    import zipfile

    from tlcore.data import store

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # train/ and test/ on top, as the Data page takes them
        for path in sorted(fashion_small.rglob("*.png")):
            zf.write(path, path.relative_to(fashion_small).as_posix())
    folder = store.dataset_folder(store.import_zip(buf.getvalue(), "fashion.zip"))
    at = studio("strategy", **{ui.DATASET: folder})
    assert not at.exception and not at.error
    test = at.selectbox(key="opt_test_data")
    assert test.value == "" and test.options[0] == "only the 40 images in your test folder"


STAGES_TITLE = "EfficientNet-Lite1, from the image (left) to the answer (right)"


def test_the_stages_chart_reads_in_words_without_a_toolbar(digits):
    import json

    at = studio("strategy", **{ui.DATASET: digits})
    axis = charts(at)[STAGES_TITLE].layout.yaxis
    assert "1 thousand" in axis.ticktext and "1 million" in axis.ticktext
    assert all(t.split(" ")[0] in ("1", "10", "100") for t in axis.ticktext)  # powers of ten only, no "2, 5"
    [chart] = at.get("plotly_chart")
    assert json.loads(chart.proto.config)["displayModeBar"] is False


@pytest.mark.slow
def test_strategy_choices_survive_a_restart_and_reach_the_next_run(digits):
    from tlcore.workspace import choices_path, load_choices

    at = studio("strategy", **{ui.DATASET: digits})
    at.slider(key="opt_stages").set_value(2).run()
    at.selectbox(key="opt_augment").set_value("strong").run()
    at.number_input(key="opt_epochs").set_value(12).run()
    at.selectbox(key="opt_evaluation").set_value("holdout").run()
    assert not at.exception and not at.error
    assert load_choices()["settings"] == {"augment": "strong", "epochs": 12, "evaluation": "holdout"}

    again = studio("strategy", **{ui.DATASET: digits})  # a new session: after a reload or an app restart
    assert again.slider(key="opt_stages").value == 2
    assert again.selectbox(key="opt_augment").value == "strong" and again.number_input(key="opt_epochs").value == 12
    assert again.selectbox(key="opt_evaluation").value == "holdout"
    again.selectbox(key="opt_augment").set_value("auto").run()  # back to the default: forgotten
    assert "augment" not in load_choices()["settings"]
    train = studio("train", **{ui.DATASET: digits})
    assert "fine-tunes the last 2 of 7 stages of EfficientNet-Lite1, **12** epochs" in texts(train.markdown)
    other = studio("strategy", **{ui.DATASET: digits, ui.MODEL: "resnet18"})  # stages are per dataset and model
    assert other.slider(key="opt_stages").value == 0 and other.number_input(key="opt_epochs").value == 12
    assert choices_path().is_file()


@pytest.mark.slow
def test_damaged_or_impossible_kept_choices_fall_back_to_defaults(digits):
    import json

    from tlcore.workspace import choices_path

    choices_path().write_bytes(b"\x00{not json")
    at = studio("strategy", **{ui.DATASET: digits})
    assert not at.exception and not at.error and at.slider(key="opt_stages").value == 0
    choices_path().write_text(json.dumps({"version": 1, "choices": {
        "settings": {"lr": "fast", "batch_size": 0, "augment": "wild", "seed": 7, "train_bn": "yes", "epochs": 2.5,
                     "test_data": "/no/such/dataset"},
        "stages": {f"{digits}|efficientnet_lite1": 99}}}))
    at = studio("strategy", **{ui.DATASET: digits})
    assert not at.exception and not at.error
    assert at.slider(key="opt_stages").value == 7  # clipped to the model's stages
    assert at.number_input(key="opt_seed").value == 7  # the one usable setting
    assert at.number_input(key="opt_lr").value == 0.003 and at.number_input(key="opt_batch_size").value == 32
    assert at.selectbox(key="opt_augment").value == "auto" and at.number_input(key="opt_epochs").value == 0
    assert at.selectbox(key="opt_test_data").value == "" and at.checkbox(key="opt_train_bn").value is False
    choices_path().write_text(json.dumps({"version": 99, "choices": {"settings": {"seed": 5}}}))
    assert studio("strategy", **{ui.DATASET: digits}).number_input(key="opt_seed").value == 0


def test_a_frozen_network_offers_the_fastest_or_the_most_accurate_model(digits):
    at = studio("strategy", **{ui.DATASET: digits})
    at.slider(key="opt_stages").set_value(0).run()
    choice = at.radio(key="opt_recipe")
    assert choice.value == "auto" and "Which model to make" == choice.label
    assert any("billion operations" in c.value for c in at.caption)
    choice.set_value("most_accurate").run()
    assert not at.error
    goto(at, "train")
    assert "the most accurate model: EfficientNet-Lite0, Lite1 and Lite2 together, frozen" in texts(at.markdown)
    goto(at, "strategy")
    at.slider(key="opt_stages").set_value(2).run()
    assert "opt_recipe" not in [r.key for r in at.radio]  # a frozen network's choice
    goto(at, "train")  # deeper training uses the chosen model alone
    assert "fine-tunes the last 2 of 7 stages of EfficientNet-Lite1" in texts(at.markdown)


def _colour_set() -> str:
    """Three classes of 12 colour images (reddish, greenish, bluish noise) stored in this test's workspace."""
    import io

    import numpy as np
    from PIL import Image

    from tlcore.data import store

    rng = np.random.default_rng(0)

    def image(channel: int) -> bytes:
        pixels = rng.integers(0, 90, (40, 40, 3))
        pixels[..., channel] += 150
        buf = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8)).save(buf, "PNG")
        return buf.getvalue()

    classes = {name: [(f"{i}.png", image(c)) for i in range(12)] for c, name in enumerate(("red", "green", "blue"))}
    return store.dataset_folder(store.import_class_images("colours", classes))


@pytest.mark.slow
def test_strategy_shows_each_choices_time_and_announces_kept_choices_with_theirs():
    import json

    from tlcore.jobs.timings import timings_path
    from tlcore.workspace import save_choices

    colours = _colour_set()
    at = studio("strategy", **{ui.DATASET: colours})
    assert not at.exception and not at.error
    [line] = [c.value for c in at.caption if c.value.startswith("Time on this computer for your 36 labelled images")]
    assert "typical speeds" in line and "with the fastest model" in line and "with the most accurate" in line
    assert "; 1 stage about" in line and "; 7 stages about" in line
    assert at.metric[1].label == "Training time on this computer" and at.metric[1].value.startswith("about ")
    assert "as recommended makes the most accurate." in texts(at.caption)  # colour images, under 2 minutes
    assert not [i for i in at.info if "Kept from your last session" in i.value]

    save_choices({"settings": {"epochs": 12}, "stages": {f"{colours}|efficientnet_lite1": 4}})
    # earlier runs here took ten times the typical time: the most accurate model no longer fits in 2 minutes
    slow = {"device": "cpu", "recipe": "most_accurate", "embed": 30.0, "steps": 0.0, "rest": 400.0,
            "typical_embed": 3.0, "typical_steps": 0.0, "typical_rest": 40.0}
    timings_path().write_text(json.dumps({"version": 1, "runs": [slow, {**slow, "recipe": "fastest"}]}))
    again = studio("strategy", **{ui.DATASET: colours})  # a later visit
    [note] = [i.value for i in again.info if "Kept from your last session" in i.value]
    assert "train the last 4 stages, epochs 12" in note and "on this computer" in note
    assert "(the recommended settings: about" in note
    assert "from the speed of 2 earlier runs on this computer" in texts(again.caption)
    again.slider(key="opt_stages").set_value(0).run()
    assert "as recommended makes the fastest." in texts(again.caption)
    goto(again, "train")  # and once more before Start
    assert "It should take about" in texts(again.caption) and "on this computer" in texts(again.caption)
