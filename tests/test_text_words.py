"""Which words moved a text model's answer (occlusion), checked where the answer is known: a model
trained on texts whose class is decided by one planted word only must put that word first, and each
word's effect is the drop in the answer's probability when that word is left out."""

import csv

import pytest
from wording import pattern

from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.jobs.train import create_run, execute
from tlcore.studio import load_text_predictor, word_effects
from tlcore.use.text_words import CUT, MAX_WORDS, NO_WORDS

# Carrier sentences that say nothing about the class: each appears once with each keyword, so the
# planted word is the only thing that tells the classes apart.
CARRIERS = ["The report arrived on Tuesday and {} was mentioned twice.",
            "We met at the station before {} came up in the talk.",
            "Her notes about {} were long and carefully written.",
            "After lunch the group discussed {} for an hour.",
            "The letter said little except a line on {}.",
            "Nobody expected {} to be on the agenda today.",
            "The old book had a chapter about {} near the end.",
            "They painted the fence while talking about {}.",
            "A short film about {} played in the hall.",
            "The teacher wrote {} on the board and left."]
KEYWORDS = {"zebra": "stripes", "volcano": "fire"}  # planted word -> its class
UNSEEN = ["My cousin phoned yesterday to ask about {} and the weather.",
          "The museum guide mentioned {} while we waited in line.",
          "In the quiet office someone whispered {} to the new intern."]


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    """A frozen MiniLM head trained on the carriers, each with each planted word."""
    base = tmp_path_factory.mktemp("planted")
    table = base / "planted.csv"
    with table.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([c.format(word), label] for c in CARRIERS for word, label in KEYWORDS.items())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(base / "workspace"))
        run = create_run(TrainConfig(data=str(table), trainable_stages=0, evaluation="holdout", epochs=60,
                                     device="cpu"), base / "run")
        assert execute(run.path) == "finished"
    return load_text_predictor(run.path)


@pytest.mark.parametrize("word", sorted(KEYWORDS))
def test_the_planted_word_that_decides_the_class_moves_the_answer_most(predictor, word):
    for carrier in UNSEEN:
        effects = word_effects(predictor, carrier.format(word))
        assert effects.answer == KEYWORDS[word]
        (first, effect), (second, other) = effects.ranked()[:2]
        assert first == word and effect > 0, effects.ranked()[:3]
        assert effect > 2 * abs(other)  # by far: no carrier word comes close


def test_each_effect_is_the_drop_in_the_answer_without_that_word_and_the_pieces_are_the_text(predictor):
    text = "<b>zebra</b> and **stripes**, don't you think?"
    effects = word_effects(predictor, text)
    assert "".join(piece for piece, _ in effects.pieces) == text[:text.rindex("think") + len("think")]
    assert [w for w, e in effects.pieces if e is not None] == ["b", "zebra", "b", "and", "stripes", "don't", "you",
                                                               "think"]
    answer = predictor.classes.index(effects.answer)
    p = predictor.probabilities([text, text.replace("zebra", "", 1), text.replace("don't", "", 1)])[:, answer]
    weights = dict((w, e) for w, e in effects.pieces if e is not None)
    assert effects.probability == pytest.approx(float(p[0]), abs=1e-6)
    assert weights["zebra"] == pytest.approx(float(p[0] - p[1]), abs=1e-5)
    assert weights["don't"] == pytest.approx(float(p[0] - p[2]), abs=1e-5)
    assert effects.cut == ""


def test_a_long_text_has_its_first_words_weighed_and_says_so(predictor):
    text = " ".join(["volcano"] + ["word"] * (MAX_WORDS + 4))
    effects = word_effects(predictor, text)
    assert effects.weighed == MAX_WORDS and effects.words == MAX_WORDS + 5
    assert effects.cut == CUT.format(weighed=MAX_WORDS, words=MAX_WORDS + 5)
    assert effects.ranked()[0][0] == "volcano"


def test_a_text_without_words_is_one_plain_line(predictor):
    with pytest.raises(TLError, match=f"^{pattern(NO_WORDS)}$"):
        word_effects(predictor, " ... !? ")
