"""Text runs go on as image runs do: a fine-tuned text run stopped after an epoch resumes to the same
model as a run never stopped, and a text dataset grown by a class trains on from an earlier text run,
from the command line and from the studio (a class typed into the stored dataset on the Data page)."""

import json

import pytest
from app_fixtures import studio, texts, wait_until
from text_fixtures import TOPICS, table_bytes, write_table

from pages import ui
from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.jobs import recorder
from tlcore.jobs.train import create_run, execute
from tlcore.rundir import RunDir
from tlcore.studio import add_typed_texts, import_texts, text_folder
from tlcore.workspace import runs_dir

KEPT = ("predictions.csv", "bundle/model.safetensors")
TWO = {c: TOPICS[c] for c in ("food", "sport")}


def _tuned(data: str) -> TrainConfig:
    """The last transformer layer fine-tuned for 3 epochs, nothing left to the recommender."""
    return TrainConfig(data=data, model="all_minilm_l6_v2", trainable_stages=1, epochs=3, batch_size=8,
                       evaluation="holdout", device="cpu")


@pytest.mark.slow
def test_a_fine_tuned_text_run_stopped_after_an_epoch_resumes_to_the_unstopped_runs_model(tmp_path, monkeypatch):
    table = str(write_table(tmp_path / "topics.csv"))
    reference = create_run(_tuned(table), tmp_path / "reference")
    assert execute(reference.path) == "finished"
    run = create_run(_tuned(table), tmp_path / "run")
    real = recorder.save_checkpoint

    def stop_after_first(run_dir, *args):  # Stop pressed as the first epoch is saved
        real(run_dir, *args)
        if args[4].epoch == 1:
            run_dir.request_cancel()

    monkeypatch.setattr(recorder, "save_checkpoint", stop_after_first)
    assert execute(run.path) == "cancelled"
    assert [e.epoch for e in run.epochs()] == [1] and run.status().state == "cancelled"
    monkeypatch.setattr(recorder, "save_checkpoint", real)
    run.clear_cancel()  # Resume, as the Train page's button does (its worker runs execute)
    assert execute(run.path) == "finished"
    assert [e.epoch for e in run.epochs()] == [1, 2, 3] and [e["epoch"] for e in run.events("resumed")] == [1]
    for name in KEPT:
        assert (run.path / name).read_bytes() == (reference.path / name).read_bytes(), name


def test_a_text_table_with_a_new_class_trains_on_from_the_earlier_text_run(tmp_path):
    two, three = tmp_path / "two.csv", tmp_path / "three.csv"
    two.write_bytes(table_bytes([[t, c] for c, items in TWO.items() for t in items]))
    three.write_bytes(table_bytes())
    common = ["--device", "cpu", "--trainable-stages", "0", "--epochs", "2", "--evaluation", "holdout"]
    assert main(["train", "--data", str(two), "--out", str(tmp_path / "r2"), *common]) == 0
    assert main(["train", "--data", str(three), "--init-from", str(tmp_path / "r2"), "--out", str(tmp_path / "r3"),
                 *common]) == 0
    run = RunDir(tmp_path / "r3")
    growth = run.metrics().growth
    assert growth["old_classes"] == ["food", "sport"] and growth["new_classes"] == ["weather"]
    assert growth["removed_classes"] == []
    assert run.record().config.init_from == str(tmp_path / "r2")
    assert json.loads((run.path / "bundle" / "model.json").read_text())["classes"] == ["food", "sport", "weather"]


def test_the_studio_trains_a_text_dataset_grown_by_a_typed_class_on_from_the_earlier_run():
    folder = text_folder(import_texts(table_bytes([[t, c] for c, items in TWO.items() for t in items]), "two.csv"))
    first = create_run(TrainConfig(data=folder, model="all_minilm_l6_v2", trainable_stages=0, epochs=1,
                                   evaluation="holdout", device="cpu"), runs_dir() / "20250101-000000-two")
    assert execute(first.path) == "finished"
    add_typed_texts(folder, "weather", "\n".join(TOPICS["weather"]))  # the Data page's "Type or paste texts"
    at = studio("model", **{ui.DATASET: folder})
    picker = at.selectbox(key="pick_init_from")
    picker.select_index(1).run()  # the earlier text run, the only one offered
    assert not at.exception and not at.error and at.session_state[ui.INIT_FROM] == str(first.path)
    at = studio("train", **{ui.DATASET: folder, ui.INIT_FROM: str(first.path)})
    assert not at.exception and not at.error
    assert "continuing run" in texts(at.markdown)
    next(b for b in at.button if b.label == "Start training").click()
    at.run()
    run = RunDir(at.session_state[ui.RUN])
    wait_until(at, lambda _: run.status().state not in ("queued", "running"), timeout=180)
    assert run.status().state == "finished", run.status()
    growth = run.metrics().growth
    assert growth["old_classes"] == ["food", "sport"] and growth["new_classes"] == ["weather"]
    assert run.record().config.init_from == str(first.path)
