"""The Train page's live charts: one line per split or class, on whole-epoch axes."""

from pages.charts import METRICS, class_recall_figure, curves_figure


def test_curves_show_training_against_validation_per_measure():
    rows = [{"epoch": e, "train_accuracy": e / 30, "val_accuracy": e / 40, "train_loss": 1 / e, "val_loss": 2 / e}
            for e in range(1, 31)]
    fig = curves_figure(rows, "accuracy")
    assert [t.name for t in fig.data] == ["training images", "validation images"]
    assert list(fig.data[1].y) == [e / 40 for e in range(1, 31)]
    assert fig.layout.title.text == METRICS["accuracy"][0] and fig.layout.yaxis.tickformat == ".0%"
    assert fig.layout.xaxis.dtick == 3  # about ten whole-epoch ticks, never 1.5
    assert curves_figure(rows, "loss").layout.yaxis.tickformat is None  # loss is not a share


def test_class_recall_has_a_line_per_class():
    rows = [{"epoch": e, "class": c, "recall": r} for e in (1, 2) for c, r in (("cat", 0.5 * e), ("dog", 0.4))]
    fig = class_recall_figure(rows)
    assert {t.name: list(t.y) for t in fig.data} == {"cat": [0.5, 1.0], "dog": [0.4, 0.4]}


def test_stage_chart_ticks_are_powers_of_ten_in_words():
    from pages.charts import power_ticks, stages_figure

    assert power_ticks(928, 2_500_000) == ([100, 1000, 10_000, 100_000, 1_000_000, 10_000_000],
                                           ["100", "1 thousand", "10 thousand", "100 thousand", "1 million",
                                            "10 million"])
    fig = stages_figure(["stem", "block 1", "new final layer"], [928, 2_500_000, 12_810], [False, True, True], "Net")
    assert list(fig.layout.yaxis.ticktext) == ["100", "1 thousand", "10 thousand", "100 thousand", "1 million",
                                               "10 million"]
    assert fig.layout.yaxis.tickvals[1] == 1000 and fig.layout.yaxis.type == "log"
    assert list(fig.data[0].y) == [928, 2_500_000, 12_810] and list(fig.data[0].text) == ["frozen", "learns", "learns"]
