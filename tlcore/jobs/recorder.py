"""The run folder as the engine's reporter: what training reports becomes the run's record
(status.json, events.jsonl, dataset.json, checkpoint.pt, metrics.json, predictions, bundle/), and a
Stop asked from the app reaches the loop. The engine (``tlcore.training``) writes none of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import torch

from tlcore.atomic import atomic_write_json
from tlcore.config import TrainConfig
from tlcore.data.dataset import Dataset
from tlcore.jobs.checkpoint import load_checkpoint, save_checkpoint
from tlcore.models.bundle import save_bundle
from tlcore.record import DatasetRef, EpochEvent, Metrics
from tlcore.rundir import RunDir
from tlcore.training import inputs as loading
from tlcore.training.inputs import Inputs
from tlcore.training.loop import LoopState
from tlcore.training.report import Scored, finish_run
from tlcore.training.text_inputs import is_text_run, split_texts

TEXTS = "texts.json"  # a text run's texts, by their items' paths in dataset.json


class RunRecorder:
    """Implements ``tlcore.training.reporter.Reporter`` on a run folder."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self.acted = False  # training has seen the Stop (it acts on it at once)
        self.kept = False  # an epoch's model is kept: a Stop saves it

    def status(self, message: str, **fields) -> None:
        self.run.set_status("running", message=message, **fields)

    def event(self, kind: str, **data) -> None:
        self.run.append_event(kind, **data)

    def epoch(self, event: EpochEvent) -> None:
        self.run.append_epoch(event)
        self.kept = True

    def should_stop(self) -> bool:
        stop = self.run.cancel_requested()
        self.acted = self.acted or stop
        return stop

    def checkpoint(self, model, optimizer, scheduler, generator, state: LoopState, best_weights: dict | None,
                   event: dict) -> None:
        if self.run.records:  # the other ranks of a distributed run only read it
            save_checkpoint(self.run, model, optimizer, scheduler, generator, state, best_weights, event)

    def restore(self, model, optimizer, scheduler, generator) -> tuple[LoopState, dict | None]:
        return load_checkpoint(self.run, model, optimizer, scheduler, generator)


def _dataset(run: RunDir, cfg: TrainConfig) -> tuple[Dataset, bool, dict[str, str] | None]:
    """The run's dataset and split (from dataset.json when resuming, else loaded and split now and
    kept there), whether the data came with its own validation examples, and a text run's texts
    (kept in texts.json, written before dataset.json, whose presence says both are there)."""
    text, texts_path = is_text_run(cfg), run.path / TEXTS
    if run.dataset_path.is_file() and (texts_path.is_file() or not text):
        ds = Dataset.load(run.dataset_path)
        texts = json.loads(texts_path.read_text(encoding="utf-8")) if text else None
        return ds, any(i.split == "val" for i in ds.items), texts
    texts = None
    if text:
        ds, texts, given_val = split_texts(cfg, RunRecorder(run))
        atomic_write_json(texts_path, texts)
    else:
        ds, given_val = loading.split_dataset(cfg, RunRecorder(run))
    ds.save(run.dataset_path)
    run.write_record(replace(run.record(), dataset=DatasetRef(ds.id, ds.name, ds.classes)))
    run.append_event("dataset", id=ds.id, classes=ds.classes, train=ds.counts("train"),
                     val=ds.counts("val"), test=ds.counts("test"), skipped=len(ds.skipped))
    return ds, given_val, texts


def load_inputs(run: RunDir, cfg: TrainConfig, device: torch.device,
                planned: Callable | None = None) -> Inputs:
    """The run's inputs (``tlcore.training.inputs.load_inputs``) on the dataset the run keeps."""
    ds, given_val, texts = _dataset(run, cfg)
    return loading.load_inputs(ds, given_val, cfg, device, RunRecorder(run), planned, texts)


def use_all_for_training(run: RunDir, inputs: Inputs) -> Inputs:
    """Cross-validation's inputs (``tlcore.training.inputs.use_all_for_training``); the run's
    dataset.json says so too."""
    ds, merged = loading.use_all_for_training(Dataset.load(run.dataset_path), inputs)
    if run.records and merged is not inputs:
        ds.save(run.dataset_path)
    return merged


def finish(run: RunDir, cfg: TrainConfig, inputs: Inputs, held: Scored, test: Scored | None,
           trainable_stages: int, kept_epoch: int, warnings: list[str]) -> Metrics:
    """Score the run (``tlcore.training.report.finish_run``) and keep its predictions, its model
    bundle and metrics.json, in that order."""
    dataset = Dataset.load(run.dataset_path) if run.dataset_path.is_file() else None
    done = finish_run(cfg, inputs, held, test, trainable_stages, kept_epoch, warnings, dataset, run.name)
    for split, data in done.predictions.items():
        run.write_predictions(split, data)
    save_bundle(run.bundle_path, inputs.net, inputs.classes, inputs.spec.name, inputs.image_size, extra=done.bundle)
    run.write_metrics(done.metrics)
    return done.metrics
