"""One decision per run: ``resolve`` fills every setting a request leaves to "auto" from the
dataset's statistics (``DatasetStats``, gathered once by ``tlcore.jobs.stats``), this computer's
device and what it has observed (``Observations``), and returns the ``Plan``: the resolved
settings, the recommendation with its reasons, and the work and time estimate of the run.

The Strategy page previews the Plan, the run records it and the worker follows it; nothing
decides a second time. ``resolve`` reads no file and asks no network: the same inputs give the
same Plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from tlcore.config import FASTEST, MOST_ACCURATE, TrainConfig
from tlcore.jobs import timings
from tlcore.models.catalog import ModelSpec, get_spec
from tlcore.models.freeze import backbone_is_frozen, resolve_trainable
from tlcore.training.recommend import Recommendation, choose_evaluation, choose_recipe, recommend, text_reason
from tlcore.training.timing import Estimate, Work


@dataclass(frozen=True)
class DatasetStats:
    """What the decision needs to know of a run's images, measured once for a request.

    Attributes:
        model: the catalog model the run trains (an earlier run's, when it continues one).
        labelled: labelled images per class (test images left out), validation images included.
        val: the validation images among them (the data's own, or the run's split).
        test: test images scored once at the end (the data's test folder and ``test_data``).
        given_val: the data brings its own validation images.
        image_size: the size the run reads its images at.
        naturalness: the pretrained model's mean top-1 confidence on the run's sample of the
            images at that size (tlcore.training.recommend.natural_sample); None when unknown.
        kind: "colour" or "greyscale" (tlcore.training.recommend.image_kind) of that sample.
    """

    model: str
    labelled: dict[str, int]
    val: int
    test: int
    given_val: bool
    image_size: int
    naturalness: float | None
    kind: str | None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "DatasetStats":
        return cls(**data)


@dataclass(frozen=True)
class Observations:
    """What this computer knows besides the images: its earlier runs' times (tlcore.jobs.timings),
    whether the most accurate model's networks are here, and the recipes whose ONNX model is
    already kept at the run's model and size (no export first)."""

    runs: list[dict]
    ensemble_ready: bool
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """A run, decided: the settings asked for (``request``) and with nothing left to "auto"
    (``config``), the recommendation with its reasons and estimates, the work of the run (its
    phases' typical seconds) and the statistics and device it was decided from. JSON round trip
    with ``to_json`` / ``from_json``."""

    request: TrainConfig
    config: TrainConfig
    recommendation: Recommendation
    work: Work
    stats: DatasetStats
    device: str

    def estimate(self, recipe: str | None = None) -> Estimate | None:
        """How long the run should take here with ``recipe`` (None: the one it makes); None where
        the Plan has no estimate for that recipe."""
        est = self.recommendation.estimates.get(recipe or self.config.recipe)
        return None if est is None else Estimate(est["seconds"], est["measured"])

    def to_json(self) -> dict:
        return {"request": self.request.to_json(), "config": self.config.to_json(), "recommendation": self.recommendation.to_json(),
                "work": asdict(self.work), "stats": self.stats.to_json(), "device": self.device}

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        return cls(TrainConfig.from_json(data["request"]), TrainConfig.from_json(data["config"]), Recommendation(**data["recommendation"]),
                   Work(**data["work"]), DatasetStats.from_json(data["stats"]), data["device"])


def work_of(cfg: TrainConfig, recipe: str, spec: ModelSpec, stats: DatasetStats, held: int, device: str,
            kept: tuple[str, ...]) -> Work:
    """The work of a run of ``cfg`` (its depth, epochs and augmentation decided) with ``recipe``,
    ``held`` of its labelled images set aside to check it."""
    stages = resolve_trainable(cfg.trainable_stages, len(spec.stages))
    return timings.work_for(recipe=recipe, spec=spec, size=stats.image_size, stages=stages,
                            frozen=backbone_is_frozen(spec, stages, cfg.train_bn), epochs=cfg.epochs,
                            augment=cfg.augment, labelled=sum(stats.labelled.values()), val=held,
                            test=stats.test, device=device,
                            pretrained=cfg.weights == "pretrained" and not cfg.init_from, kept=kept)


def resolve(request: TrainConfig, stats: DatasetStats, device: str, observations: Observations) -> Plan:
    """The Plan of a run of ``request`` on ``device`` ("cpu" or "cuda"): "auto" depth, epochs,
    augmentation, evaluation and recipe filled from the recommender, the image size recorded (so
    the run reproduces on any device), and the estimates of the recipes it could make here."""
    spec = get_spec(stats.model)
    chosen = (None if request.trainable_stages == "auto"
              else resolve_trainable(request.trainable_stages, len(spec.stages)))
    rec = recommend(stats.labelled, stats.naturalness, len(spec.stages), gpu=device == "cuda", chosen_stages=chosen,
                    texts=spec.kind == "text")
    resolved = request.with_(
        trainable_stages=rec.trainable_stages if request.trainable_stages == "auto" else request.trainable_stages,
        epochs=request.epochs or rec.epochs,
        augment="none" if spec.kind == "text" else rec.augment if request.augment == "auto" else request.augment,
    )
    stages = resolve_trainable(resolved.trainable_stages, len(spec.stages))
    frozen = backbone_is_frozen(spec, stages, resolved.train_bn)
    rec = choose_evaluation(rec, resolved, frozen, stats.labelled, given_val=stats.given_val)
    held = 0 if rec.evaluation == "cv" else stats.val
    works = {r: work_of(resolved, r, spec, stats, held, device, observations.kept)
             for r in ((FASTEST, MOST_ACCURATE) if frozen else (FASTEST,))}
    estimates = {r: timings.estimate_work(w, observations.runs) for r, w in works.items()}
    rec = choose_recipe(rec, resolved, frozen, stats.labelled, observations.ensemble_ready and spec.kind == "image",
                        estimates, stats.kind)
    rec = replace(rec, estimates={r: timings.with_typical(works[r], e) for r, e in estimates.items()})
    if spec.kind == "text":
        rec = text_reason(rec)
    config = resolved.with_(evaluation=rec.evaluation, recipe=rec.recipe, image_size=stats.image_size)
    return Plan(request, config, rec, works[rec.recipe], stats, device)
