"""How many of a run's scored images copy a training image, counted on the images in memory."""

from __future__ import annotations

from tlcore.data.dataset import Dataset
from tlcore.data.fingerprint import file_sha256, file_size
from tlcore.data.leakage import count_copies
from tlcore.training.inputs import Inputs, Part
from tlcore.training.text_inputs import text_copies


def scored_copies(dataset: Dataset | None, inputs: Inputs, held: str) -> dict[str, int]:
    """Copies of training images among the ``held`` split's images ("val", or "cv" where every
    training image is scored and copies are counted among them) and the test images; the
    ``dataset``'s fingerprints spare reading its files again."""
    if inputs.spec.kind == "text":
        return text_copies(dataset, inputs, held)
    known = {i.path: (i.sha256, (i.width, i.height)) for i in (dataset.items if dataset is not None else [])}

    def facts(part: Part) -> list[tuple[str, tuple[int, int]]]:
        return [known.get(f) or (file_sha256(f), file_size(f)) for f in part.files]

    train, train_x = facts(inputs.train), inputs.train.x.cpu().numpy()
    if held == "cv":
        out = {"cv": count_copies(train, train_x)}
    else:
        out = {"val": count_copies(train, train_x, facts(inputs.val), inputs.val.x.cpu().numpy())}
    if inputs.test is not None:
        out["test"] = count_copies(train, train_x, facts(inputs.test), inputs.test.x.cpu().numpy())
    return out
