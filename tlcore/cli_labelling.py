"""The command line's labelling commands: ``suggest`` (classes for an unlabelled pool, in the order
to check them) and ``label`` (a reviewed suggestions CSV applied to the dataset), for scripted use."""

from __future__ import annotations

from pathlib import Path

from tlcore.paths import writable_file
from tlcore.startup import loading


def parsers(sub) -> None:
    """``suggest`` and ``label``: labelling an unlabelled pool with a run's model, from a script."""
    s = sub.add_parser("suggest",
                       help="suggest classes for unlabelled images (or texts), in the order to check them")
    s.add_argument("--run", required=True, help="a run folder: its dataset and model")
    s.add_argument("--pool", required=True, help="folder or zip of unlabelled images (a CSV of texts for a text run)")
    s.add_argument("--csv", required=True, help="write the suggestions here: file,class,probability")
    s.add_argument("--seed", type=int, default=0)
    lb = sub.add_parser("label", help="apply a reviewed suggestions CSV: its files join the dataset")
    lb.add_argument("--data", required=True, help="the dataset the run was trained on")
    lb.add_argument("--from", dest="csv", required=True, help="the CSV that suggest wrote, reviewed")


def suggest(args) -> int:
    writable_file(args.csv)
    from tlcore.atomic import atomic_write_bytes
    from tlcore.data.names import printable

    with loading():
        from tlcore.studio import suggest_for_run, suggestions_csv
    found, added = suggest_for_run(args.run, args.pool, args.seed)
    atomic_write_bytes(Path(args.csv), suggestions_csv(found.rows).encode())
    print(printable(added["message"]))
    stated = found.accept(0.9)
    precision = (f"{stated['precision']:.0%} right on held-out labelled {added['kind']}s"
                 if stated["precision"] is not None else stated["reason"])
    print(f"wrote {args.csv}: {len(found.rows)} suggestions, the most useful to check first; "
          f"{stated['pool']} {'is' if stated['pool'] == 1 else 'are'} at least 90% sure ({precision})")
    return 0


def label(args) -> int:
    from tlcore.studio import apply_labels_csv, how_labelled

    done = apply_labels_csv(args.data, args.csv)
    already = f" ({done['already']} were already labelled)" if done["already"] else ""
    counts = how_labelled(args.data)
    came = "imported with their labels" if done["kind"] == "text" else "from class folders"
    print(f"labelled {done['labelled']} {done['kind']}s{already}; the dataset now holds {counts['person']} checked "
          f"by a person, {counts['bulk']} accepted in bulk and {counts['imported']} {came}")
    return 0


COMMANDS = {"suggest": suggest, "label": label}
