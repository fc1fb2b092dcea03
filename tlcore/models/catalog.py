"""The model catalog: every backbone the studio offers, with its stages, preprocessing and metadata.

Each entry says how to build the network, where its weights come from, how images must be
normalised, how wide its features are, and its ordered **stages** (input to output), so that
"train the last N stages" is one integer. A stage is a tuple of name prefixes that match
parameter and module names of the *backbone* (the pretrained network with its ImageNet
classifier removed); the new classification head is separate (see ``tlcore.models.net``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tlcore.errors import TLError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained in TensorFlow on (x - 127) / 128 of 0..255 pixels.
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class Stage:
    """One freezable group of layers, named for the user."""

    name: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class ModelSpec:
    """A catalog entry: everything needed to build, freeze, preprocess and describe a backbone."""

    name: str
    title: str
    blurb: str
    source: str  # "bundled" (weights ship with a pip package), "torchvision" or "hub" (Hugging Face Hub files)
    stages: tuple[Stage, ...]
    feature_dim: int
    imagenet_head: str  # name of the original ImageNet Linear layer, removed from the backbone
    removed: tuple[str, ...] = ()  # other original layers replaced by Identity (e.g. dropout)
    image_size: int = 224
    cpu_size: int = 0  # the size it runs at on a processor when none is set (0: image_size)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    params: int = 0  # the backbone's parameters (ImageNet classifier removed), counted exactly
    top1: float = 0.0
    file_mb: float = 0.0
    gflops: float = 0.0
    fixed_size: bool = False  # ViT's position embeddings only fit its training size
    cam_layer: str = ""  # the last layer with a spatial map, where Grad-CAM looks
    kind: str = "image"  # what it reads: "image" or "text"
    max_tokens: int = 0  # text: the longest input in tokens; longer texts are cut
    hub: str = ""  # source "hub": the Hugging Face Hub repository its files download from

    def size_on(self, device_type: str) -> int:
        """The image size a run uses when none is set: ``cpu_size`` on a processor, else ``image_size``."""
        return self.cpu_size if device_type == "cpu" and self.cpu_size else self.image_size

    @property
    def params_m(self) -> float:
        """The backbone's parameters in millions, rounded to two decimals."""
        return round(self.params / 1e6, 2)

    def network_params(self, num_classes: int = 0) -> int:
        """Parameters of the network a run trains: the backbone and a new final layer for
        ``num_classes`` classes (none when 0). The one count every page and card shows."""
        return self.params + (self.feature_dim + 1) * num_classes

    @property
    def speed(self) -> str:
        """A plain speed class from compute cost: fast, medium or slow."""
        if self.gflops < 1.0:
            return "fast"
        return "medium" if self.gflops < 5.0 else "slow"

    def stage_of(self, name: str) -> int | None:
        """Index of the stage a parameter/module name belongs to, or None."""
        for i, stage in enumerate(self.stages):
            if any(_matches(name, p) for p in stage.prefixes):
                return i
        return None

    def to_json(self) -> dict:
        """JSON-safe summary stored in bundles and shown by the UI."""
        return {
            "name": self.name, "title": self.title, "source": self.source,
            "feature_dim": self.feature_dim, "image_size": self.image_size,
            "mean": list(self.mean), "std": list(self.std),
            "stages": [s.name for s in self.stages], "params_m": self.params_m,
            "top1": self.top1, "file_mb": self.file_mb, "speed": self.speed,
        } | ({"kind": self.kind, "max_tokens": self.max_tokens} if self.kind != "image" else {})


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _st(name: str, *prefixes: str) -> Stage:
    return Stage(name, tuple(prefixes))


def _seq(prefix: str, start: int, stop: int) -> tuple[str, ...]:
    return tuple(f"{prefix}.{i}" for i in range(start, stop))


def _vit_layers(start: int, stop: int) -> tuple[str, ...]:
    return tuple(f"encoder.layers.encoder_layer_{i}" for i in range(start, stop))


def _lite_stages(starts: tuple[int, ...]) -> tuple:
    """An EfficientNet-Lite's stages: the stem with the first block, five groups of blocks (each
    from its first block in ``starts`` to the next one's), and the last block with the head."""
    groups = (_st(f"block {i}", *_seq("_blocks", starts[i - 1], starts[i])) for i in range(1, 6))
    return (_st("stem", "_conv_stem", "_bn0", "_blocks.0"), *groups,
            _st("last block", f"_blocks.{starts[5]}", "_conv_head", "_bn1"))


_LITE0 = ModelSpec(
    name="efficientnet_lite0", title="EfficientNet-Lite0",
    blurb="The smallest and fastest; works offline.",
    source="bundled",
    stages=_lite_stages((1, 3, 5, 8, 11, 15)),
    feature_dim=1280, imagenet_head="_fc", removed=("_dropout",), cam_layer="_bn1",
    mean=LITE_MEAN, std=LITE_STD, params=3_371_008, top1=75.1, file_mb=18.6, gflops=0.41,
)

_LITE_LARGER = dict(  # Lite1 and Lite2 share one block layout: 1, 3, 3, 4, 4, 5 and 1 blocks
    source="bundled",
    stages=_lite_stages((1, 4, 7, 11, 15, 20)),
    feature_dim=1280, imagenet_head="_fc", removed=("_dropout",), cam_layer="_bn1", mean=LITE_MEAN, std=LITE_STD,
)
# On a processor Lite1 reads 208-pixel images: 75% of the computing of its own 240, and at 208 its
# frozen features scored 72.4% / 80.3% / 86.7% on clip art / Fashion-MNIST / digits at 15 a class
# against 71.7% / 80.9% / - at 240 and Lite0's 70.5% / 80.5% / 85.4% at 224 (bench/quality.py, 5 draws;
# on tests/test_transfer.py's Fashion-MNIST draws Lite0 scores higher, see there).
_LITE1 = ModelSpec(name="efficientnet_lite1", title="EfficientNet-Lite1", image_size=240, cpu_size=208,
                   blurb="The default: usually more accurate than Lite0, for a little more computing; works offline.",
                   params=4_135_680, top1=76.7, file_mb=21.9, gflops=0.63, **_LITE_LARGER)
_LITE2 = ModelSpec(name="efficientnet_lite2", title="EfficientNet-Lite2", image_size=260,
                   blurb="The most accurate of the offline models, at about twice Lite0's cost.",
                   params=4_811_072, top1=77.6, file_mb=24.7, gflops=0.90, **_LITE_LARGER)

_RESNET_STAGES = (_st("stem", "conv1", "bn1"), _st("layer 1", "layer1"), _st("layer 2", "layer2"),
                  _st("layer 3", "layer3"), _st("layer 4", "layer4"))

_TORCHVISION = (
    ModelSpec(
        name="resnet18", title="ResNet-18", blurb="Classic small residual network; quick to fine-tune.",
        source="torchvision",
        stages=_RESNET_STAGES,
        feature_dim=512, imagenet_head="fc", cam_layer="layer4",
    ),
    ModelSpec(
        name="resnet50", title="ResNet-50", blurb="The workhorse: accurate, well understood, medium cost.",
        source="torchvision",
        stages=_RESNET_STAGES,
        feature_dim=2048, imagenet_head="fc", cam_layer="layer4",
    ),
    ModelSpec(
        name="mobilenet_v3_large", title="MobileNetV3-Large",
        blurb="Built for phones: very fast, good accuracy.", source="torchvision",
        stages=(
            _st("stem", *_seq("features", 0, 2)), _st("block 1", *_seq("features", 2, 4)),
            _st("block 2", *_seq("features", 4, 7)), _st("block 3", *_seq("features", 7, 13)),
            _st("block 4", *_seq("features", 13, 16)), _st("last block", "features.16", "classifier.0"),
        ),
        feature_dim=1280, imagenet_head="classifier.3", removed=("classifier.2",), cam_layer="features.16",
    ),
    ModelSpec(
        name="efficientnet_b0", title="EfficientNet-B0",
        blurb="Efficient and accurate for its size.", source="torchvision",
        stages=(
            _st("stem", "features.0", "features.1"), _st("block 2", "features.2"),
            _st("block 3", "features.3"), _st("block 4", "features.4"), _st("block 5", "features.5"),
            _st("block 6", "features.6"), _st("last block", "features.7", "features.8"),
        ),
        feature_dim=1280, imagenet_head="classifier.1", removed=("classifier.0",), cam_layer="features.8",
    ),
    ModelSpec(
        name="convnext_tiny", title="ConvNeXt-Tiny",
        blurb="Modern convolutional network; very accurate, heavier.", source="torchvision",
        stages=(
            _st("stage 1", "features.0", "features.1"), _st("stage 2", "features.2", "features.3"),
            _st("stage 3", "features.4", "features.5"),
            _st("stage 4", "features.6", "features.7", "classifier.0"),
        ),
        feature_dim=768, imagenet_head="classifier.2", cam_layer="features.7",
    ),
    ModelSpec(
        name="vit_b_16", title="ViT-B/16",
        blurb="Vision transformer; accurate, slow on a CPU.", source="torchvision",
        stages=(
            _st("patch embedding", "conv_proj", "class_token", "encoder.pos_embedding"),
            _st("layers 1-3", *_vit_layers(0, 3)),
            _st("layers 4-6", *_vit_layers(3, 6)),
            _st("layers 7-9", *_vit_layers(6, 9)),
            _st("layers 10-12", *_vit_layers(9, 12), "encoder.ln"),
        ),
        feature_dim=768, imagenet_head="heads.head", fixed_size=True,
        cam_layer="encoder.layers.encoder_layer_11.ln_1",
    ),
    ModelSpec(
        name="regnet_y_400mf", title="RegNetY-400MF",
        blurb="Tiny and efficient; good on a laptop.", source="torchvision",
        stages=(_st("stem", "stem"), _st("block 1", "trunk_output.block1"),
                _st("block 2", "trunk_output.block2"), _st("block 3", "trunk_output.block3"),
                _st("block 4", "trunk_output.block4")),
        feature_dim=440, imagenet_head="fc", cam_layer="trunk_output.block4",
    ),
    ModelSpec(
        name="densenet121", title="DenseNet-121",
        blurb="Densely connected; popular for medical images.", source="torchvision",
        stages=(
            _st("stem", "features.conv0", "features.norm0"),
            _st("dense block 1", "features.denseblock1", "features.transition1"),
            _st("dense block 2", "features.denseblock2", "features.transition2"),
            _st("dense block 3", "features.denseblock3", "features.transition3"),
            _st("dense block 4", "features.denseblock4", "features.norm5"),
        ),
        feature_dim=1024, imagenet_head="classifier", cam_layer="features.norm5",
    ),
    ModelSpec(
        name="vgg16", title="VGG-16", blurb="Old and very large; included for comparison.",
        source="torchvision",
        stages=(
            _st("blocks 1-2", "features.0", "features.2", "features.5", "features.7"),
            _st("block 3", "features.10", "features.12", "features.14"),
            _st("block 4", "features.17", "features.19", "features.21"),
            _st("block 5", "features.24", "features.26", "features.28"),
            _st("classifier", "classifier.0", "classifier.3"),
        ),
        feature_dim=4096, imagenet_head="classifier.6", cam_layer="features.29",
    ),
)


def _with_torchvision_meta(spec: ModelSpec) -> ModelSpec:
    """Fill parameters, accuracy, size and cost from torchvision's own weights metadata. Its
    parameter count includes the ImageNet classifier (a Linear layer from the features to 1,000
    classes), which the studio removes; the count kept is the backbone's."""
    from dataclasses import replace

    from torchvision.models import get_model_weights

    meta = get_model_weights(spec.name).DEFAULT.meta
    return replace(
        spec,
        params=meta["num_params"] - (spec.feature_dim + 1) * IMAGENET_CLASSES,
        top1=float(meta["_metrics"]["ImageNet-1K"]["acc@1"]),
        file_mb=round(float(meta.get("_file_size", 0.0)), 1),
        gflops=float(meta.get("_ops", 0.0)),
    )


def _bert_layers(count: int) -> tuple[Stage, ...]:
    return tuple(_st(f"layer {i + 1}", f"bert.encoder.layer.{i}") for i in range(count))


# A sentence encoder (tlcore.models.text_net): BERT's embeddings and 6 transformer layers; its features are
# three pooled views of 384 numbers (tlcore.models.text_net.pooled_views).
# gflops: billions of multiply-adds (as torchvision counts the image models'), for a text of 64 tokens
# (about 50 words; torch's FlopCounterMode: 1.36 GFLOPs); the cost grows with the length.
_MINILM = ModelSpec(
    name="all_minilm_l6_v2", title="MiniLM-L6 sentence encoder", kind="text",
    blurb="English sentences and short texts (up to about 200 words); small and quick; works offline.",
    source="bundled", stages=(_st("embeddings", "bert.embeddings"), *_bert_layers(6)),
    feature_dim=3 * 384, imagenet_head="", max_tokens=256, params=22_565_376, file_mb=90.9, gflops=0.68,
)

# Other sentence encoders of the same family (BERT layers of 384 numbers, mean-pooled), whose files download
# from the Hugging Face Hub when there is internet, as the torchvision models' weights do. Parameters: the
# same embeddings as MiniLM-L6 (11,918,592) and 1,774,464 a layer; size: the Hub's model.safetensors (with
# BERT's pooler, 147,840 more); gflops: MiniLM-L6's 64-token cost scaled by the number of layers.
_HUB_TEXT = (
    ModelSpec(
        name="paraphrase_minilm_l3_v2", title="MiniLM-L3 paraphrase encoder", kind="text",
        blurb="English sentences (up to about 100 words); half MiniLM-L6's layers, so faster; downloads once.",
        source="hub", hub="sentence-transformers/paraphrase-MiniLM-L3-v2",
        stages=(_st("embeddings", "bert.embeddings"), *_bert_layers(3)), feature_dim=3 * 384, imagenet_head="",
        max_tokens=128, params=17_241_984, file_mb=69.6, gflops=0.34,
    ),
    ModelSpec(
        name="all_minilm_l12_v2", title="MiniLM-L12 sentence encoder", kind="text",
        blurb="English sentences (up to about 100 words); twice MiniLM-L6's layers, often a little more "
              "accurate, slower; downloads once.",
        source="hub", hub="sentence-transformers/all-MiniLM-L12-v2",
        stages=(_st("embeddings", "bert.embeddings"), *_bert_layers(12)), feature_dim=3 * 384, imagenet_head="",
        max_tokens=128, params=33_212_160, file_mb=133.4, gflops=1.36,
    ),
)

_BUNDLED = {s.name: s for s in (_LITE1, _LITE0, _LITE2, _MINILM, *_HUB_TEXT)}  # the default first; no torchvision
_CATALOG: dict[str, ModelSpec] | None = None


def _catalog() -> dict[str, ModelSpec]:
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = _BUNDLED | {s.name: s for s in map(_with_torchvision_meta, _TORCHVISION)}
    return _CATALOG


def params_text(count: int) -> str:
    """A parameter count as every page shows it: "3.38 M" (millions, two decimals)."""
    return f"{count / 1e6:.2f} M"


def list_specs(kind: str = "image") -> list[ModelSpec]:
    """The catalog entries for one kind of data ("image" or "text"), the default first."""
    return [s for s in _catalog().values() if s.kind == kind]


def get_spec(name: str) -> ModelSpec:
    """The catalog entry called ``name``; a TLError listing the choices if there is none."""
    if name in _BUNDLED:  # without importing torchvision for the others' metadata (2-3 s)
        return _BUNDLED[name]
    try:
        return _catalog()[name]
    except KeyError:
        choices = ", ".join(_catalog())
        raise TLError(f"There is no model called '{name}'. Choose one of: {choices}.") from None
