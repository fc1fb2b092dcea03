"""A model card: what the model is, what it was trained on, how well it does, how to use it."""

from __future__ import annotations

import json

from tlcore.advice import advise
from tlcore.catalog import get_spec
from tlcore.dataset import Dataset
from tlcore.rundir import RunDir

_USAGE = '''```python
from tlcore.predict import Predictor             # this project: pip install -r requirements.txt

predictor = Predictor("bundle")                  # the unzipped bundle folder
print(predictor.predict_files(["photo.jpg"], top=3))
```

Without this project, use the ONNX file with onnxruntime: resize the shorter side to
{size} px, center-crop {size}x{size}, scale to 0..1, subtract mean {mean} and divide by std {std}
(RGB, NCHW float32); the output is one score per class in the order listed above.'''


def _metric_table(metrics: dict) -> list[str]:
    lines = ["| class | precision | recall | F1 | images |", "| --- | --- | --- | --- | --- |"]
    for name, s in metrics["per_class"].items():
        lines.append(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |")
    return lines


def model_card(run: RunDir) -> str:
    """Markdown describing the trained model of ``run``."""
    meta = json.loads((run.bundle_path / "model.json").read_text())
    record, metrics = run.read_config(), run.metrics() or {}
    cfg, spec = record["config"], get_spec(meta["model"])
    ds = Dataset.load(run.dataset_path)
    stages = meta["trainable_stages"]
    strategy = ("feature extraction: the pretrained network was frozen and only a new final layer was trained"
                if stages == 0 else f"fine-tuning: the last {stages} of {len(spec.stages)} stages and a new "
                "final layer were trained")
    lines = [
        f"# Model card: {ds.name} classifier", "",
        f"- **Classes ({len(meta['classes'])}):** {', '.join(meta['classes'])}",
        f"- **Base model:** {spec.title} pretrained on ImageNet ({spec.params_m}M parameters)",
        f"- **Strategy:** {strategy}; {cfg['epochs']} epochs, augmentation '{cfg['augment']}', seed {cfg['seed']}",
        f"- **Input:** {meta['image_size']} x {meta['image_size']} RGB; {meta['preprocessing']}",
        f"- **Data:** {sum(ds.counts('train').values())} training and {sum(ds.counts('val').values())} "
        f"validation images (dataset id {ds.id})",
        f"- **Run:** {run.name}, made with torch {record['environment']['torch']}, code {record['environment'].get('code_version')}",
        "",
        "## How well it does",
    ]
    for split in ("val", "test"):
        if split in metrics:
            m = metrics[split]
            name = "Validation" if split == "val" else "Held-out test"
            lines += ["", f"{name}: accuracy {m['accuracy']:.3f}, macro precision {m['precision_macro']:.3f}, "
                      f"macro recall {m['recall_macro']:.3f}, macro F1 {m['f1_macro']:.3f} ({m['count']} images).", ""]
            lines += _metric_table(m)
    lines += ["", "## Limits", "",
              "- It only knows the classes above: any other image is still given one of them.",
              "- Scores were measured on images like the training images; other cameras, lighting or "
              "backgrounds may score lower.",
              *[f"- {a}" for a in advise(run)],
              "", "## How to use it", "",
              _USAGE.format(size=meta["image_size"], mean=[round(v, 4) for v in meta["mean"]],
                            std=[round(v, 4) for v in meta["std"]])]
    return "\n".join(lines) + "\n"
