"""The studio's Evaluate and Use & export pages, on a finished tiny run."""

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from app_fixtures import charts, goto, png, studio, texts

from pages import ui
from tlcore.use.predict import Predictor
from tlcore.rundir import RunDir


@pytest.mark.parametrize("page", ["evaluate", "use"])
def test_these_pages_need_a_trained_model(page):
    at = studio(page)
    assert "There is no trained model yet." in texts(at.info)
    assert at.get("page_link")[0].proto.label == "Go to Train"


def test_evaluate_shows_the_kept_models_score_per_split(workspace_run):
    at = studio("evaluate", **{ui.RUN: workspace_run})
    assert not at.exception and not at.error
    metrics = RunDir(workspace_run).metrics()
    raw = json.loads((Path(workspace_run) / "metrics.json").read_text())
    # one score: the test images' (the run has some), as metrics.json holds it, with its interval
    assert raw["score"]["split"] == "test" and raw["score"]["images"] == 40
    assert f"### {metrics.score.sentence()}" in texts(at.markdown)
    shown = {m.label: m.value for m in at.metric}
    assert list(shown) == ["Accuracy", "Precision", "Recall", "F1 score"]
    assert shown["Accuracy"] == f"{raw['test']['accuracy']:.1%}" == f"{raw['score']['accuracy']:.1%}"
    counts = next(iter(charts(at).values())).data[0]
    assert sum(map(sum, counts.z)) == 40
    at.radio[0].set_value("cv").run()  # every labelled image, scored out of fold
    cv = raw["cv"]
    assert {m.label: m.value for m in at.metric}["Accuracy"] == f"{cv['accuracy']:.1%}"
    counts, share = [f.data[0] for f in charts(at).values()][:2]
    assert counts.type == share.type == "heatmap"
    assert sum(map(sum, counts.z)) == cv["count"] == 48
    assert all(abs(sum(row) - 1) < 1e-9 for row in share.z if sum(row))
    assert list(counts.x) == ["bag", "sandal", "t-shirt", "trouser"]
    per_class = at.dataframe[0].value
    assert per_class["class"].tolist() == ["bag", "sandal", "t-shirt", "trouser"] and per_class["support"].sum() == 48
    rows = list(csv.DictReader((Path(workspace_run) / "predictions.csv").open()))
    wrong = [r for r in rows if r["true"] != r["predicted"]]
    mistakes = [c for c in texts(at.caption).splitlines() if c.startswith("is **")]
    assert len(rows) == 48 and len(mistakes) == min(len(wrong), 24)
    assert "What to do next" in texts(at.subheader)
    assert at.info or at.success  # advice, or the all-clear


def test_evaluate_shows_calibration_and_images_probably_labelled_wrong(workspace_run):
    at = studio("evaluate", **{ui.RUN: workspace_run})
    cal = RunDir(workspace_run).metrics().calibration
    assert "Can you trust its confidence?" in texts(at.subheader)
    said = texts(at.caption)
    assert cal["reason"] in said and f"it is {cal['test_ece_after']:.1%}" in said  # measured on the test images
    assert "Drawn on the test images" in said
    reliability = next(f for f in charts(at).values() if f.data and f.data[0].name == "perfectly calibrated")
    names = [t.name for t in reliability.data]
    # the adjusted line only where the adjustment ships; each line drawn from the test images
    assert names == ["perfectly calibrated", "unadjusted"] + ["adjusted, as the Use page shows it"] * cal["kept"]
    assert cal["bins_on"] == "test" and sum(b["count"] for b in cal["bins_before"]) == 40
    assert list(reliability.data[-1].y) == [b["accuracy"] for b in cal["bins_after" if cal["kept"] else "bins_before"]]
    at.radio[0].set_value("cv").run()
    assert "Images probably labelled wrong" in texts(at.subheader)


def test_evaluate_shows_where_the_model_looked(workspace_run):
    at = studio("evaluate", **{ui.RUN: workspace_run})
    next(b for b in at.button if b.label == "Show where the model looked").click()
    at.run()
    assert not at.exception and not at.error
    figure = charts(at)[str(len(charts(at)) - 1)]
    assert [t.type for t in figure.data] == ["image", "heatmap"]
    heat = figure.data[1].z
    assert 0 <= min(map(min, heat)) and max(map(max, heat)) <= 1
    assert any(c.startswith("Red areas weighed most in the answer") for c in texts(at.caption).splitlines())


def _bag(fashion_small) -> Path:
    return min((fashion_small / "test" / "bag").iterdir())


def test_use_predicts_an_uploaded_image(workspace_run, fashion_small):
    image = _bag(fashion_small)
    at = studio("use", **{ui.RUN: workspace_run})
    at.file_uploader[0].set_value(("bag.png", image.read_bytes(), "image/png")).run()
    assert not at.exception and not at.error
    expected = Predictor.from_run(workspace_run).predict_files([image], top=5)[0]["top"]
    best, p = expected[0]
    assert f"### {best} ({p:.0%} sure)" in texts(at.markdown)
    bars = next(f for f in charts(at).values() if f.data[0].type == "bar").data[0]
    assert list(bars.y) == [c for c, _ in expected] and bars.x[0] == pytest.approx(p, abs=1e-6)


def test_use_classifies_many_images_into_a_table(workspace_run, fashion_small):
    images = sorted((fashion_small / "test" / "trouser").iterdir())[:3]
    files = [(p.name, p.read_bytes(), "image/png") for p in images] + [("broken.png", b"no image", "image/png")]
    at = studio("use", **{ui.RUN: workspace_run})
    at.file_uploader[0].set_value(files).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["file"].tolist() == [f[0] for f in files]
    assert table["problem"].tolist()[-1] == "broken.png is not an image file"
    assert "Download all results as CSV" in [b.label for b in at.get("download_button")]


def test_use_classifies_once_with_progress_and_keeps_the_rows(workspace_run, fashion_small, monkeypatch):
    images = sorted((fashion_small / "test" / "trouser").iterdir())[:3]
    calls, progress = [], []
    real = Predictor.predict_files

    def counted(self, paths, top=3, on_batch=None):
        calls.append(len(paths))
        return real(self, paths, top=top, on_batch=lambda done, total: (progress.append((done, total)),
                                                                         on_batch(done, total)))

    monkeypatch.setattr(Predictor, "predict_files", counted)
    at = studio("use", **{ui.RUN: workspace_run})
    at.file_uploader[0].set_value([(p.name, p.read_bytes(), "image/png") for p in images]).run()
    at.selectbox(key="look_upload").set_value(2).run()
    assert not at.exception and not at.error
    assert calls == [3] and progress[-1] == (3, 3)  # one pass, reported; looking at a row reuses it
    assert f"### {at.dataframe[0].value['predicted'][2]}" in texts(at.markdown)


def test_use_takes_a_camera_picture(workspace_run):
    at = studio("use", **{ui.RUN: workspace_run})
    at.toggle[0].set_value(True).run()
    at.camera_input[0].set_value(("shot.jpg", png(128, 64, fmt="JPEG"), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert any(m.startswith("### ") and m.endswith("sure)") for m in texts(at.markdown).splitlines())


@pytest.mark.filterwarnings("ignore:Constant folding")
def test_use_offers_the_bundle_the_model_card_and_makes_the_export_files(workspace_run):
    at = studio("use", **{ui.RUN: workspace_run})
    labels = [b.label for b in at.get("download_button")]
    assert "Download the model bundle (.zip)" in labels and "Download the model card (.md)" in labels
    assert "Download model.onnx" not in labels and "Download model.pt2" not in labels
    assert "# Model card:" in texts(at.markdown)
    for title, filename in (("ONNX", "model.onnx"), ("PyTorch program (.pt2)", "model.pt2")):
        next(b for b in at.button if b.label == f"Make the {title} file").click()
        at.run()
        assert not at.exception and not at.error
        assert (Path(workspace_run) / filename).is_file()
        assert f"Download {filename}" in [b.label for b in at.get("download_button")]


def test_evaluate_shows_what_adding_classes_cost_and_gained(workspace_run):
    metrics_path = Path(workspace_run) / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["growth"] = {"old_classes": ["bag", "sandal"], "new_classes": ["t-shirt", "trouser"],
                         "removed_classes": ["coat"], "old_accuracy_before": 0.9, "old_accuracy_after": 0.85,
                         "new_accuracy": 0.75}
    metrics_path.write_text(json.dumps(metrics))
    at = studio("evaluate", **{ui.RUN: workspace_run})
    assert not at.exception and "Classes added to an earlier model" in texts(at.subheader)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Known classes, before"] == "90.0%" and shown["Known classes, now"] == "85.0%"
    assert shown["New classes"] == "75.0%" and "Removed: coat." in texts(at.caption)


def _stopped_newer(workspace_run: str) -> str:
    """A newer trained run, stopped after its first epoch (a copy of the fixture's, recorded so)."""
    newer = Path(workspace_run).with_name("20250102-000000-efficientnet_lite0")
    shutil.copytree(workspace_run, newer)
    run = RunDir(newer)
    run.write_record(replace(run.record(), created=run.record().created + 60))
    run.set_status("cancelled", message="Stopped; the best model so far (epoch 1) was kept")
    return str(newer)


def test_use_keeps_the_model_picked_on_evaluate_and_names_a_newer_stopped_one(workspace_run):
    at = studio("evaluate", **{ui.RUN: workspace_run})  # the model the user is evaluating
    assert at.selectbox(key="pick_run_evaluate").value == workspace_run
    newer = _stopped_newer(workspace_run)
    at.session_state[ui.RUN] = newer  # then a run was started, and stopped after one epoch
    goto(at, "use")
    assert not at.exception and not at.error
    assert at.selectbox(key="pick_run_use").value == workspace_run
    [note] = [c.value for c in at.caption if c.value.startswith("A newer model is not used unless you pick it above")]
    assert note.endswith(" · Stopped.")
    again = studio("use", **{ui.RUN: newer})  # a reload: a new session keeps the pick, from the workspace
    assert again.selectbox(key="pick_run_use").value == workspace_run
    again.selectbox(key="pick_run_use").set_value(newer).run()  # picked on Use: Evaluate shows it too
    assert again.session_state[ui.PICKED] == again.session_state[ui.RUN] == newer
    goto(again, "evaluate")
    assert again.selectbox(key="pick_run_evaluate").value == newer
    assert not [c for c in again.caption if c.value.startswith("A newer model")]


def test_without_a_pick_a_stopped_run_is_not_the_model_used(workspace_run):
    newer = _stopped_newer(workspace_run)
    at = studio("use", **{ui.RUN: newer})  # the current run is the stopped one
    assert at.selectbox(key="pick_run_use").value == workspace_run
    assert any(c.value.startswith("A newer model is not used") for c in at.caption)
