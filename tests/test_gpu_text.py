"""The text network on a GPU: the image path's device code (placement, bf16 autocast, the loop)
runs it unchanged. Runs only where CUDA is available."""

import pytest
import torch

from test_text_model import NAME, SENTENCES, train_text_net
from tlcore.models.catalog import get_spec
from tlcore.models.net import build_backbone
from tlcore.models.text_net import text_tokenizer
from tlcore.training.loop import autocast

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_gpu_embeddings_under_bf16_autocast_match_the_cpu():
    spec = get_spec(NAME)
    encoder, _ = build_backbone(spec)
    ids = text_tokenizer(spec)(SENTENCES).ids
    with torch.no_grad():
        cpu = encoder.eval()(ids)
        device = torch.device("cuda")
        with autocast(device):
            gpu = encoder.to(device)(ids.to(device)).float().cpu()
    assert torch.nn.functional.cosine_similarity(cpu, gpu).min() > 0.99


def test_gpu_fine_tunes_the_last_layers_of_the_text_net():
    first, last = train_text_net(torch.device("cuda"))
    assert last < 0.7 * first  # from about ln 3 (a guess among 3 topics) to about half that


def test_gpu_text_run_through_the_cli_fine_tunes_and_scores(tmp_path_factory):
    """A whole text run on the GPU: the engine's placement, channels_last and autocast, as for images."""
    from text_fixtures import train

    from tlcore.rundir import RunDir

    run = RunDir(train(tmp_path_factory, "gpu", "--device", "cuda", "--trainable-stages", "2", "--evaluation",
                       "holdout", "--epochs", "4", "--batch-size", "8"))
    assert run.record().environment["cuda"] and run.record().config.device == "cuda"
    assert not any(e.fast_path for e in run.epochs()) and run.metrics().val.accuracy >= 0.5


def test_gpu_frozen_text_run_fits_the_default_recipe_once(tmp_path_factory):
    """Default settings on the GPU: features by the engine's device code, then the text recipe's one fit."""
    import json

    from text_fixtures import train

    from tlcore.rundir import RunDir

    run = RunDir(train(tmp_path_factory, "gpu-frozen", "--device", "cuda"))
    assert [(e.epoch, e.epochs, e.fast_path) for e in run.epochs()] == [(1, 1, True)]
    assert json.loads(run.metrics_path.read_text())["cv"]["accuracy"] >= 0.8
