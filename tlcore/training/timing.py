"""How long a run will take on this computer, before it starts.

A run's time is split into what it costs per image and pass: the frozen network's features (ONNX
Runtime on a processor), the fine-tuning steps, the rest (start-up, reading images, training the
final layer, scoring), and the one-off export of a network's ONNX model. Each part has a typical
cost measured on the project's 2-core CI machine (scaled by the computing of the network at its
image size); the times of earlier runs in this workspace (``tlcore.jobs.timings``) replace those
with this computer's own speed, part by part, as soon as one has finished.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

# Typical costs on the CI machine (2 cores, no GPU), per GFLOP of the network at its image size.
# EfficientNet-Lite1 at 208 px (0.47 GFLOPs) takes 4.7 ms an image in ONNX Runtime and Lite0 at 224 px
# 18 ms in PyTorch (55 images/s): README "Performance", bench/run.py G7. Fine-tuning on a processor
# took 150 ms a training image and epoch (Lite1 at 208 px, the last 2 of 7 stages, strong augmentation,
# Fashion-MNIST at 50 a class: 902 s, README "Learning quality"): a training pass costs "train" plus
# "backward" times the share of stages that learn.
CPU_CORES = 2
PRIOR = {
    "cpu": {"embed": 0.010, "forward": 0.044, "train": 0.10, "backward": 0.35, "start": 3.0, "fixed": 2.0,
            "decode": 0.004, "head": 0.003, "head_fixed": 0.4, "export": 20.0, "export_fixed": 4.0},
    "cuda": {"embed": 0.001, "forward": 0.001, "train": 0.002, "backward": 0.003, "start": 8.0, "fixed": 2.0,
             "decode": 0.002, "head": 0.0005, "head_fixed": 0.4, "export": 0.0, "export_fixed": 0.0},
}
LOAD_PER_NETWORK = 3.0  # seconds to build a pretrained network and check its kept ONNX model (CI machine)
RECENT = 12  # the latest runs of this computer that set its speed
PARTS = ("embed", "steps", "rest")  # the parts measured in a run (start-up happens before its record)


@dataclass(frozen=True)
class Work:
    """What a run will do, as far as its time goes.

    Attributes:
        device: "cpu" or "cuda".
        recipe: "fastest" or "most_accurate" (tlcore.config).
        gflops: the computing of the recipe's network(s) per image at the run's image size.
        networks: how many pretrained networks the recipe loads.
        labelled: training and validation images; ``val`` of them check a network that learns.
        test: test images, scored once at the end.
        trained: the share of the network's stages that learn (0: frozen).
        epochs: passes over the training images.
        views: versions of each training image a frozen network embeds (1: no augmentation).
        export_gflops: the computing of the networks whose ONNX model must be exported first (0: kept).
    """

    device: str
    recipe: str
    gflops: float
    networks: int
    labelled: int
    test: int
    trained: float
    epochs: int
    views: int = 1
    val: int = 0
    export_gflops: float = 0.0

    @property
    def frozen(self) -> bool:
        return self.trained == 0

    @property
    def embedded(self) -> int:
        """Images a frozen network's features are computed for (none when the network learns)."""
        if not self.frozen:
            return 0
        return (self.labelled - self.val) * self.views + self.val + self.test


@dataclass(frozen=True)
class Estimate:
    """Seconds a run should take here, and how many earlier runs of this computer it rests on."""

    seconds: float
    measured: int

    def words(self) -> str:
        """"about 40 s", "about 3 min", "about 1 h 20 min"."""
        return f"about {duration_words(self.seconds)}"

    def basis(self) -> str:
        """Where the estimate comes from, in a few words."""
        if self.measured:
            return f"from the speed of {self.measured} earlier run{'s' * (self.measured != 1)} on this computer"
        return "from typical speeds, until a first run here measures this computer"

    def to_json(self) -> dict:
        return {"seconds": round(self.seconds, 1), "measured": self.measured}


def duration_words(seconds: float) -> str:
    """A plain duration: "40 s", "3 min", "1 h 20 min"."""
    if seconds < 90:
        return f"{max(5, int(round(seconds / 5.0)) * 5)} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


def _machine_scale(device: str) -> float:
    """Typical costs were measured on CPU_CORES cores; a processor with more cores is faster."""
    if device != "cpu":
        return 1.0
    return min(2.0, max(0.25, CPU_CORES / (os.cpu_count() or CPU_CORES)))


def phases(work: Work) -> dict[str, float]:
    """Typical seconds of each phase of ``work`` after start-up, in the order a run goes through
    them (tlcore.training.progress.PHASES) and scaled by this computer's cores: reading the images;
    loading the network(s) and the fixed costs; exporting their ONNX model; the frozen network's
    features; the final layers of a frozen network, cross-validated (when nothing is set aside to
    validate) and then on all images, or the fine-tuning steps; the test images through a network
    that learned."""
    p, scale = PRIOR[work.device], _machine_scale(work.device)
    train = test = 0.0
    if not work.frozen:
        learn = work.labelled - work.val
        per_epoch = learn * (p["train"] + p["backward"] * work.trained) + work.val * p["forward"]
        train, test = work.gflops * work.epochs * per_epoch, work.gflops * work.test * p["forward"]
    export = (p["export_fixed"] + p["export"] * work.export_gflops) if work.export_gflops else 0.0
    # The final layers of a frozen network (cross-validated, then on all images): README, 0.8 s at 15 a
    # class and 2 s at 50 (Lite1's 1280 features); the ensemble's 3 x 1280 cost about 3 times that.
    head = (p["head_fixed"] + p["head"] * work.labelled * work.views) * work.networks * work.epochs / 40 \
        if work.frozen else 0.0
    cv = head / 2 if work.frozen and not work.val else 0.0
    out = {"decode": p["decode"] * (work.labelled + work.test), "load": p["fixed"] + LOAD_PER_NETWORK * work.networks,
           "export": export, "embed": work.gflops * p["embed"] * work.embedded, "cv": cv,
           "train": train + head - cv, "test": test, "save": 0.0}
    return {k: v * scale for k, v in out.items()}


def parts(work: Work) -> dict[str, float]:
    """Typical seconds of each part of ``work`` on the CI machine (scaled by this computer's cores):
    start-up, features, fine-tuning steps, and the rest (loading, reading images, exports, the final
    layer, scoring)."""
    ph = phases(work)
    steps = 0.0 if work.frozen else ph["train"] + ph["test"]
    head = ph["cv"] + ph["train"] if work.frozen else 0.0
    return {"start": PRIOR[work.device]["start"] * _machine_scale(work.device), "embed": ph["embed"],
            "steps": steps, "rest": ph["decode"] + ph["load"] + ph["export"] + head}


def _ratio(runs: list[dict], part: str, typical: str) -> float | None:
    """The median of measured over typical seconds of one part, over runs that had it."""
    ratios = [r[part] / r[typical] for r in runs if r.get(typical, 0) > 0.05 and r.get(part) is not None]
    return statistics.median(ratios) if ratios else None


def estimate(work: Work, runs: list[dict]) -> Estimate:
    """Seconds ``work`` should take, from its typical parts, each scaled by how this computer's
    earlier ``runs`` (``tlcore.jobs.timings`` observations) compared with their own typical parts:
    the same recipe's runs where there are any, else all of this device's."""
    here = [r for r in runs if r.get("device") == work.device][-RECENT:]
    same = [r for r in here if r.get("recipe") == work.recipe]
    typical = parts(work)
    ratios = {part: _ratio(same, part, f"typical_{part}") or _ratio(here, part, f"typical_{part}") or 1.0
              for part in PARTS}
    # Start-up (imports, before the run's record begins) is the same kind of work as "rest": it slows alike.
    total = typical["start"] * ratios["rest"] + sum(typical[part] * ratios[part] for part in PARTS)
    return Estimate(total, len(here))

