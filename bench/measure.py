"""The measurements behind bench/run.py, each comparing two ways side by side in one process."""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from tlcore.jobs import runs, standby, worker
from tlcore.training.augment import BatchPrep
from tlcore.models.catalog import get_spec
from tlcore.config import TrainConfig
from tlcore.training.embed import Embedder
from tlcore.data.images import decode_many
from tlcore.training.loop import autocast, identity_prep, train_one_epoch
from tlcore.training.optimizer import WarmupCosine, adamw
from tlcore.models.net import availability, build_backbone, build_net
from tlcore.rundir import RunDir
from tlcore.models.soup import EachHeadLoss, HeadSoup
from tlcore.training.engine import MAX_VIEWS


def make_photos(folder: Path, count: int, size: tuple[int, int], classes: int = 4, seed: int = 0) -> list[str]:
    """JPEG photos cut from scikit-learn's two sample photographs, in class folders."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    sources = [Image.fromarray(im) for im in load_sample_images().images]
    paths = []
    for i in range(count):
        src = sources[i % len(sources)]
        w, h = src.size
        box_w, box_h = int(w * rng.uniform(0.5, 1)), int(h * rng.uniform(0.5, 1))
        x0, y0 = int(rng.integers(0, w - box_w + 1)), int(rng.integers(0, h - box_h + 1))
        img = src.crop((x0, y0, x0 + box_w, y0 + box_h)).resize(size, Image.BILINEAR)
        path = folder / f"class{i % classes}" / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, quality=90)
        paths.append(str(path))
    return paths


def weights_for(model_name: str) -> str:
    """The pretrained weights when they are on this machine, else random ones: speed is the same,
    and a benchmark machine may be offline."""
    return "none" if availability(get_spec(model_name)) == "download" else "pretrained"


def _timed(fn, repeat: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` calls, GPU work included."""
    times = []
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _epoch_runner(model, x, y, prep, params, device, batch, set_mode=None):
    optimizer = adamw(params, device)  # as the engine
    steps = math.ceil(len(x) / batch)
    scheduler = WarmupCosine(optimizer, steps, 100 * steps)
    loss = EachHeadLoss(nn.CrossEntropyLoss())
    gen = torch.Generator().manual_seed(0)
    return lambda: train_one_epoch(model, x, y, prep, loss, optimizer, scheduler, batch, gen, device,
                                   set_mode=set_mode)


def g1_frozen(model_name: str, images: torch.Tensor, device: torch.device, batch: int) -> dict:
    """Head epochs on cached features vs epochs that run the frozen backbone on every image."""
    spec = get_spec(model_name)
    backbone, _ = build_backbone(spec, weights_for(model_name))
    backbone = backbone.to(device).eval().requires_grad_(False)
    if device.type == "cuda":
        backbone.to(memory_format=torch.channels_last)
    prep = BatchPrep(spec.mean, spec.std, device)
    y = torch.arange(len(images)) % 4
    soup = HeadSoup(build_net(model_name, 4, weights="none").head).to(device)
    embedder = Embedder(backbone, prep, device, images)
    t_embed = _timed(lambda: embedder(images))
    feats = embedder(images)
    head_epoch = _epoch_runner(soup, feats, y, identity_prep(device), soup.param_groups(1e-3, 0), device, batch)
    full = nn.Sequential(backbone, soup)
    full_epoch = _epoch_runner(full, images, y, prep, soup.param_groups(1e-3, 0), device, batch,
                               set_mode=lambda: (full.train(), backbone.eval()))
    head_epoch(), full_epoch()  # warm-up: allocator, kernels, ONNX session
    t_head, t_full = _timed(head_epoch, 5), _timed(full_epoch, 2)
    # With augmentation: MAX_VIEWS versions of each image embedded once, vs the backbone every epoch.
    augment = BatchPrep(spec.mean, spec.std, device, "light", images.shape[-1])
    t_views = t_embed + _timed(lambda: [embedder(images, augment=augment) for _ in range(MAX_VIEWS - 1)])
    full_augmented = _epoch_runner(full, images, y, augment, soup.param_groups(1e-3, 0), device, batch,
                                   set_mode=lambda: (full.train(), backbone.eval()))
    t_full_augmented = _timed(full_augmented, 2)
    return {"ratio": t_full / t_head, "embed_once_plus_20_head_epochs_ratio": 20 * t_full / (t_embed + 20 * t_head),
            "augmented_views_plus_20_head_epochs_ratio": 20 * t_full_augmented / (t_views + 20 * t_head),
            "head_epoch_s": t_head, "full_frozen_epoch_s": t_full, "embed_once_s": t_embed,
            "augmented_views": MAX_VIEWS, "augmented_views_s": t_views,
            "full_frozen_augmented_epoch_s": t_full_augmented, "images": len(images),
            "feature_engine": embedder.engine}


def g7_cpu_embedding(model_name: str, images: torch.Tensor, batch: int) -> dict:
    """The frozen path's CPU feature extractor vs PyTorch eager ``model(x)``, same batch and size."""
    spec = get_spec(model_name)
    cpu = torch.device("cpu")
    backbone, _ = build_backbone(spec, weights_for(model_name))
    backbone.eval()
    prep = BatchPrep(spec.mean, spec.std, cpu)
    embedder = Embedder(backbone, prep, cpu, images, batch_size=batch)
    x = prep(images)

    def eager():
        with torch.no_grad():
            for i in range(0, len(x), batch):
                backbone(x[i:i + batch])

    embedder(images[:batch]), eager()
    t_engine, t_eager = _timed(lambda: embedder(images), 2), _timed(eager, 2)
    return {"ratio": t_eager / t_engine, "engine_images_per_s": len(images) / t_engine,
            "eager_images_per_s": len(images) / t_eager, "engine": embedder.engine, "batch": batch,
            "image_size": spec.image_size, "threads": torch.get_num_threads()}


def g5_ingestion(paths: list[str], large: list[str], size: int) -> dict:
    """Parallel decode+resize+cache vs one core's rate times the cores; and the seconds each big
    photo takes to become a model input (JPEGs are decoded whole, as a browser decodes them)."""
    cores = os.cpu_count() or 1
    t_one = _timed(lambda: decode_many(paths, size, workers=1))
    t_all = _timed(lambda: decode_many(paths, size, workers=cores))
    t_large = _timed(lambda: decode_many(large, size, workers=cores))
    return {"ratio": (len(paths) / t_all) / (cores * len(paths) / t_one), "cores": cores,
            "parallel_images_per_s": len(paths) / t_all, "one_core_images_per_s": len(paths) / t_one,
            "large_photo_s_each": t_large / len(large), "large_photos": len(large)}


def _synthetic_rate(model_name: str, device: torch.device, batch: int, size: int, steps: int,
                    bf16: bool, channels_last: bool) -> float:
    """Training images/s of forward+backward+step on a batch already in device memory."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    net = build_net(model_name, 4, weights="none", image_size=size).to(device).train()
    x = torch.randn(batch, 3, size, size, device=device)
    if channels_last:
        net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 4, (batch,), device=device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

    def step():
        ctx = autocast(device) if bf16 else torch.autocast(device.type, enabled=False)
        with ctx:
            loss = nn.functional.cross_entropy(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    return steps * batch / _timed(lambda: [step() for _ in range(steps)])


def g3_precision(model_name: str, device: torch.device, batch: int, size: int) -> dict:
    """The engine's CUDA step (bf16 autocast + channels_last) vs fp32/TF32 and vs bf16 alone."""
    if device.type != "cuda":
        return {"ratio": None, "skipped": "needs a CUDA GPU"}
    engine = _synthetic_rate(model_name, device, batch, size, 30, bf16=True, channels_last=True)
    tf32 = _synthetic_rate(model_name, device, batch, size, 30, bf16=False, channels_last=False)
    bf16_nchw = _synthetic_rate(model_name, device, batch, size, 30, bf16=True, channels_last=False)
    return {"ratio": engine / tf32, "vs_bf16_without_channels_last": engine / bf16_nchw,
            "engine_images_per_s": engine, "tf32_images_per_s": tf32, "bf16_nchw_images_per_s": bf16_nchw}


def _train_run(data: str, device: str, poll: bool, warm: bool, **overrides) -> RunDir:
    """Start a real run through the studio's own path and wait for it: in a fresh worker
    process, or (``warm``) in a standby worker that is ready."""
    os.environ[standby.ENV_VAR] = "1" if warm else "0"
    if warm:
        worker.keep_warm()
        assert standby.wait_ready(300), "no standby worker became ready"
    cfg = TrainConfig(data=data, device=device, seed=0, weights=weights_for(overrides["model"]), **overrides)
    run = runs.start_run(cfg)
    stop = threading.Event()
    poller = threading.Thread(target=_poll_like_the_train_page, args=(run, stop), daemon=True)
    if poll:
        poller.start()
    while run.status().active:
        time.sleep(0.2)
    stop.set()
    return run


def _poll_like_the_train_page(run: RunDir, stop: threading.Event) -> None:
    """Every 1.5 s, read the run directory and build the Train page's figures (its own code)."""
    from pages import charts

    while not stop.wait(1.5):
        rows = runs.history(run)
        runs.progress(run)
        if rows:
            for metric in charts.METRICS:
                charts.curves_figure(rows, metric).to_json()
            charts.class_recall_figure(runs.class_history(run)).to_json()


def _steady_rate(run: RunDir) -> float:
    epochs = runs.history(run)
    assert run.status().state == "finished", run.status()
    return statistics.median(e["images_per_second"] for e in epochs[1:])


def _start_to_first_epoch(run: RunDir) -> float:
    return run.epochs()[0].time - run.record().created


def g2_g4_g6_training(data: str, model_name: str, device: torch.device, batch: int, size: int,
                      epochs: int) -> dict:
    """End-to-end runs from image files through the worker: their steady rate vs the synthetic
    in-memory rate (G2), time from pressing Train to the first epoch's end with a warm standby
    worker, and with a fresh worker process beside it (G4), and the rate while the Train page
    polls and draws vs headless (G6)."""
    common = dict(model=model_name, trainable_stages="all", augment="light", epochs=epochs, batch_size=batch,
                  image_size=size)
    headless = _train_run(data, device.type, poll=False, warm=False, **common)
    warm = _train_run(data, device.type, poll=False, warm=True, **common)
    polled = _train_run(data, device.type, poll=True, warm=True, **common)
    standby.shutdown()
    synthetic = _synthetic_rate(model_name, device, batch, size, 10, bf16=True, channels_last=device.type == "cuda")
    rate = _steady_rate(headless)
    cold, warm_s = _start_to_first_epoch(headless), _start_to_first_epoch(warm)
    steady_epoch = statistics.median(e["seconds"] for e in runs.history(headless)[1:])
    return {
        "G2": {"ratio": rate / synthetic, "engine_images_per_s": rate, "synthetic_images_per_s": synthetic},
        "G4": {"ratio": warm_s / steady_epoch, "seconds": warm_s, "steady_epoch_s": steady_epoch,
               "fresh_worker_seconds": cold, "fresh_worker_ratio": cold / steady_epoch},
        "G6": {"ratio": _steady_rate(polled) / rate, "polled_images_per_s": _steady_rate(polled),
               "headless_images_per_s": rate},
    }
