"""Tiny labelled texts for the text-run tests: 3 topics x 8 short sentences, written as a table or as
class folders of .txt files, and a module-wide run trained on them through the command line."""

import csv
import io
import shutil
from pathlib import Path

import pytest

from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.jobs.train import create_run, execute
from tlcore.studio import import_texts, text_folder
from tlcore.workspace import runs_dir

TOPICS = {"sport": ["The striker scored twice in the final.", "Our team won the football match.",
                    "She ran the marathon in under three hours.", "The tennis player served an ace.",
                    "The goalkeeper saved a penalty.", "He swims fifty laps every morning.",
                    "The cyclist won the mountain stage.", "Fans cheered as the batter hit a home run."],
          "food": ["This soup needs more salt.", "Bake the bread for forty minutes.",
                   "The pasta was cooked al dente.", "Add sugar and stir the sauce.",
                   "We grilled fish for dinner.", "Fresh strawberries taste sweet.",
                   "Chop the onions and fry them in butter.", "The cake was rich with chocolate."],
          "weather": ["Heavy rain is expected tomorrow.", "It will be sunny and warm all week.",
                      "Snow covered the roads overnight.", "A strong wind blew from the north.",
                      "The forecast says thunderstorms.", "Fog made the morning cold and grey.",
                      "Temperatures will drop below freezing tonight.", "A heatwave is coming this weekend."]}
# Shop reviews, two of each class, for the store, audit and hostile-input tests of text tables.
REVIEWS = [("The parcel came two weeks late and nobody answered my emails.", "complaint"),
           ("Lovely shop, the staff helped me pick the right size.", "praise"),
           ("Do you ship to Norway, and how long does it take?", "question"),
           ("Broken on arrival, and the refund still has not come.", "complaint"),
           ("Fast delivery and great quality, thank you!", "praise"),
           ("Can I change the colour after ordering?", "question")]
UNSEEN = ["Our goalkeeper was the hero of the cup final.", "Simmer the stew for an hour with garlic.",
          "Expect showers and a cold breeze this afternoon.", "<b>Great</b> **match** today",
          "=1+2 a formula-looking line about rain", "@sum(A1) the chef baked a pie",
          "A much longer text about the weather: " + "clouds and rain and wind, " * 40]


def write_table(path: Path, header=("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([t, label] for label, texts in TOPICS.items() for t in texts)
    return path


def table_bytes(rows=None, header=("text", "label")) -> bytes:
    """A CSV table as uploaded: ``header``, then ``rows`` (the topics' texts and labels unless given)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows or [[t, label] for label, texts in TOPICS.items() for t in texts])
    return out.getvalue().encode()


def write_folders(root: Path) -> Path:
    for label, texts in TOPICS.items():
        (root / label).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / label / f"{i}.txt").write_text(t, encoding="utf-8")
    return root


def train(tmp_path_factory, name: str, *args: str) -> Path:
    """A run trained through ``python -m tlcore train`` (in this process) on the table, in a workspace
    of its own; its folder."""
    base = tmp_path_factory.mktemp(name)
    out = base / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(base / "workspace"))
        assert main(["train", "--data", str(write_table(base / "reviews.csv")), "--out", str(out),
                     "--device", "cpu", *args]) == 0
    return out


MISFILED = "<b>Heavy</b> rain and **thunder** all night"  # a weather text filed under sport


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A frozen MiniLM run (2 epochs, cross-validated) on the topics, one weather text filed as sport."""
    base = tmp_path_factory.mktemp("text-run")
    rows = [[t, label] for label, items in TOPICS.items() for t in items] + [[MISFILED, "sport"]]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(base / "workspace"))
        folder = text_folder(import_texts(table_bytes(rows), "topics.csv"))
        run = create_run(TrainConfig(data=folder, model="all_minilm_l6_v2", trainable_stages=0, epochs=2,
                                     device="cpu"), base / "20250101-000000-all_minilm_l6_v2")
        assert execute(run.path) == "finished"
    return run.path


@pytest.fixture
def workspace_text_run(text_run) -> str:
    target = runs_dir() / text_run.name
    shutil.copytree(text_run, target)
    return str(target)


def everything_shown(node) -> str:
    """Every element's message on a page (its words, labels, help texts, options, charts), as text."""
    children = getattr(node, "children", None)
    if children is None:
        return str(node.proto)
    return "\n".join(everything_shown(child) for child in children.values())
