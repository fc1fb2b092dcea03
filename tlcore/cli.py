"""The command line: ``python -m tlcore {train,run,rerun,cancel,predict,export,sweep,curve,models,suggest,label}``
(and ``standby``, the studio's warm worker)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from pathlib import Path

from tlcore.config import AUGMENTS, TrainConfig
from tlcore.errors import TLError
from tlcore.schema import Setting, defaults_of, settings_of
from tlcore import cli_labelling as labelling
from tlcore.jobs.outcome import guarded
from tlcore.paths import writable_file
from tlcore.startup import loading
from tlcore.workspace import writable_workspace


def _stages(value: str) -> int | str:
    return value if value in ("all", "auto") else int(value)


DAMAGED_MODEL = "The saved model in {run} is damaged; train that run again (rerun) or use another run."
NO_TEXTS = 'Give the texts to classify: --text "...", .txt files or a table (.csv) of texts.'
INSIDE_IMAGES = "The folder {out} cannot be inside the images folder {data}; choose a folder outside it."

# From the schema itself, not tlcore.studio: the command line starts without the studio's imports.
SETTINGS, DEFAULTS = settings_of(TrainConfig), defaults_of(TrainConfig)


class _Parser(argparse.ArgumentParser):
    """A mistyped command line gets one error line too, pointing at --help instead of a usage dump."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see '{self.prog} --help').\n")


def _options(parser: argparse.ArgumentParser, names, **changes: dict) -> None:
    """Add the options of the run settings ``names``, each as TrainConfig describes it (its flag, kind,
    choices, default and help); ``changes``: a command's own argparse keywords for some of them."""
    for name in names:
        s = SETTINGS[name]
        kw = {"default": DEFAULTS.get(name)} if name in DEFAULTS else {"required": True}
        if s.kind == "bool":  # a switch that turns the default around ("--no-class-weighting")
            kw |= {"action": "store_true", "default": False}
        elif s.kind in ("int", "float"):
            kw["type"] = _stages if any(isinstance(a, str) for a in s.also) else int if s.kind == "int" else float
        elif s.kind == "choice":
            kw["choices"] = s.choices
        kw |= changes.get(name, {})
        parser.add_argument(s.flag, help=_help(s, kw.get("choices", ()), kw.get("default")), **kw)


def _help(s: Setting, choices, default) -> str:
    """A setting's help on the command line: its sentence, and what its choices and other values mean."""
    words = [f"{c}: {w}" for c, w in s.words().items() if w != c and c in choices]
    if s.also_text and isinstance(s.also[0], str):
        words.append(s.also_text)
    elif s.also_text and s.also[0] is None:  # None cannot be typed: it is the option left out
        words += [f"left out: {s.also_text}"] if default is None else []
    elif s.also_text:
        words.append(f"{s.also[0]}: {s.also_text}")
    return (s.help + (f" ({'; '.join(words)})" if words else "")).replace("%", "%%")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tlcore", description="Transfer learning for image classifiers.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a classifier on a folder or zip of class folders")
    _options(t, SETTINGS)
    t.add_argument("--out", required=True, help="new run folder to create")
    r = sub.add_parser("run", help="start or resume the run prepared in a run folder (the app's worker)")
    r.add_argument("folder", nargs="?", default="", help="the run folder (torchrun: write it without --run, "
                   "which torchrun would take for its own --run-path)")
    r.add_argument("--run", default="", help="the run folder")
    rr = sub.add_parser("rerun", help="train again from a run's record, into a new run folder")
    rr.add_argument("--run", required=True)
    rr.add_argument("--out", required=True)
    sub.add_parser("standby", help="(the studio's warm start) prepare, then wait for a job to run")
    c = sub.add_parser("cancel", help="ask a running run to stop and keep its best model")
    c.add_argument("--run", required=True)
    pr = sub.add_parser("predict", help="classify image files (or texts, with a text model) with a trained run")
    pr.add_argument("--run", required=True)
    pr.add_argument("images", nargs="*", help="image files; for a text model, .txt files or a table (.csv) of texts")
    pr.add_argument("--text", action="append", default=[], help="a text to classify (text models; repeatable)")
    pr.add_argument("--text-column", default="", help="a table's column of texts (guessed when obvious)")
    pr.add_argument("--csv", default="", help="also write all probabilities to this CSV file")
    pr.add_argument("--top", type=int, default=3)
    e = sub.add_parser("export", help="export a trained run to ONNX, a torch.export program, a model card "
                       "or a web page (a zip that runs the model in any browser)")
    e.add_argument("--run", required=True)
    e.add_argument("--format", choices=["onnx", "pt2", "card", "web"], required=True)
    e.add_argument("--out", required=True)
    sw = sub.add_parser("sweep", help="train the same data at several freezing depths and compare")
    sw.add_argument("--request", default="", help="(the studio's worker) a sweep folder's request.json")
    sw.add_argument("--depths", default="0,1,half,all", help="comma-separated: numbers, half, all")
    sw.add_argument("--from-scratch", action="store_true", help="also train from random weights")
    sw.add_argument("--out", help="new folder for the sweep's runs and summary.json")
    _options(sw, ("data", "model", "epochs", "augment", "image_size", "seed", "device"), data={"required": False},
             epochs={"default": 10}, augment={"default": "none", "choices": AUGMENTS})
    lc = sub.add_parser("curve", help="learning curve: accuracy per class with 25/50/75/100%% of the images")
    lc.add_argument("--out")
    lc.add_argument("--request", default="", help="(the studio's worker) a curve folder's request.json")
    _options(lc, ("data", "model", "epochs", "image_size", "device"), data={"required": False}, epochs={"default": 40})
    sub.add_parser("models", help="list the model catalog and whether weights are available")
    labelling.parsers(sub)
    return p


def _train(args) -> int:
    _outside(args.data, args.out)  # before the imports: a mistake is reported at once
    with loading():
        from tlcore.training import distributed
        from tlcore.config import TrainConfig
        from tlcore.jobs.entry import report_run
        from tlcore.jobs.train import create_run, execute
        from tlcore.studio import plan

    launched = distributed.from_env()  # under torchrun: its processes
    optional = {"lr": args.lr, "backbone_lr_mult": args.backbone_lr_mult, "weight_decay": args.weight_decay,
                "label_smoothing": args.label_smoothing, "early_stopping": args.early_stopping,
                "warmup_epochs": args.warmup_epochs}
    cfg = TrainConfig(
        data=str(args.data), test_data=str(args.test), weights=args.weights,
        model=args.model, text_column=args.text_column, label_column=args.label_column,
        init_from=str(args.init_from), trainable_stages=args.trainable_stages, train_bn=args.train_bn,
        epochs=args.epochs, batch_size=args.batch_size, augment=args.augment, image_size=args.image_size,
        val_fraction=args.val_fraction, evaluation=args.evaluation, folds=args.folds, seed=args.seed,
        device=args.device, recipe=args.recipe,
        world_size=launched.size if launched.active else args.processes,
        class_weighting=not args.no_class_weighting,
        **{k: v for k, v in optional.items() if v is not None},
    )
    with distributed.session(cfg.device) as world:  # under torchrun: every rank trains, rank 0 records
        if world.main:
            print(f"run folder: {create_run(cfg, args.out, plan=_plan_of(cfg, plan)).path}", flush=True)
        world.barrier()
        state = execute(args.out, world)
        return report_run(Path(args.out), state) if world.main else int(state != "finished")


def _plan_of(cfg, plan):
    """The run's Plan, decided before it starts; None where the request cannot work, so the run
    records why (its worker decides again and fails with that reason, as a run always reported it)."""
    try:
        return plan(cfg)
    except TLError:
        return None


def _outside(data: str, out: str) -> None:
    """Refuse a new folder inside the images folder: it would be scanned as one more class."""
    if Path(data).is_dir() and Path(out).resolve().is_relative_to(Path(data).resolve()):
        raise TLError(INSIDE_IMAGES.format(out=out, data=data))


def _run(args) -> int:
    with loading():
        from tlcore.training import distributed
        from tlcore.jobs.entry import run_folder
        from tlcore.rundir import RunDir

    folder = args.run or args.folder
    if not folder:
        raise TLError("Name the run folder to start or resume: python -m tlcore run FOLDER.")
    with distributed.session(RunDir(folder).record().config.device) as world:
        return run_folder(folder, world)


def _standby(args) -> int:
    from tlcore.jobs.standby import serve

    return serve()


def _rerun(args) -> int:
    with loading():
        from tlcore.jobs.entry import report_run
        from tlcore.rundir import RunDir
        from tlcore.jobs.runs import config_of
        from tlcore.jobs.train import create_run, execute

    cfg = config_of(RunDir(args.run))
    _outside(cfg.data, args.out)
    run = create_run(cfg, args.out, parent=str(Path(args.run).resolve()))
    print(f"run folder: {run.path}", flush=True)
    return report_run(run.path, execute(run.path))


def _cancel(args) -> int:
    from tlcore.rundir import RunDir

    run = RunDir(args.run)
    if not run.exists():
        raise TLError(f"{args.run} is not a run folder.")
    run.request_cancel()
    print("cancel requested; the run stops after its current batch and keeps its best model")
    return 0


def _predict(args) -> int:
    if args.csv:
        writable_file(args.csv)
    from tlcore.data.names import printable
    from tlcore.models.bundle import read_bundle_meta
    from tlcore.rundir import RunDir
    from tlcore.studio import load_predictor, results_csv
    from tlcore.use.predict_text import is_text_model

    if is_text_model(read_bundle_meta(RunDir(args.run).bundle_path)):
        return _predict_texts(args)
    if not args.images:
        raise TLError("Name the image files to classify: python -m tlcore predict --run RUN photo.jpg ...")
    with _model_of(args.run):
        predictor = load_predictor(args.run)
    rows = predictor.predict_files(args.images, top=args.top)
    for row in rows:  # escaped: a file or class name with a line break must not make a line of its own
        if "error" in row:
            print(printable(f"{row['file']}: {row['error']}"))
        else:
            print(printable(f"{row['file']}: " + ", ".join(f"{c} {p:.3f}" for c, p in row["top"])))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            f.write(results_csv(rows))
    return 0 if all("error" not in r for r in rows) else 4


def _predict_texts(args) -> int:
    """``predict`` with a text model: ``text,class,probability`` lines, as the model card's script prints."""
    from tlcore.rundir import RunDir
    from tlcore.use.predict_text import TextPredictor, printed_rows, text_results_csv, texts_from

    texts = args.text + texts_from(args.images, args.text_column)
    if not texts:
        raise TLError(NO_TEXTS)
    with _model_of(args.run):
        rows = TextPredictor(RunDir(args.run).bundle_path).predict_texts(texts, top=args.top)
    sys.stdout.write(printed_rows(rows))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            f.write(text_results_csv(rows))
    return 0


def _export(args) -> int:
    writable_file(args.out)
    from tlcore.studio import export_file, write_card, write_web_demo

    if args.format == "card":
        write_card(args.run, Path(args.out))
        print(f"wrote {args.out}")
        return 0
    if args.format == "web":
        with _model_of(args.run):
            size = write_web_demo(args.run, Path(args.out))
        print(f"wrote {args.out} ({size / 1e6:.1f} MB): unzip it and open index.html, or put the folder on "
              "any static web host")
        return 0
    with _model_of(args.run):
        diff = export_file(args.run, args.format, Path(args.out))
    print(f"wrote {args.out}; largest difference from the PyTorch model: {diff:.2e}")
    return 0


@contextlib.contextmanager
def _model_of(run: str):
    """Turn a saved model that cannot be read into one sentence naming the run."""
    import safetensors

    try:
        yield
    except (safetensors.SafetensorError, ValueError, KeyError, RuntimeError) as err:
        raise TLError(DAMAGED_MODEL.format(run=run)) from err


def _sweep(args) -> int:
    with loading():
        from tlcore.config import TrainConfig
        from tlcore.jobs.entry import report_sweep, sweep_request
        from tlcore.jobs.sweep import sweep

    if args.request:
        return sweep_request(Path(args.request))
    if not args.data or not args.out:
        raise TLError("A sweep needs --data (the images) and --out (a new folder).")
    base = TrainConfig(data=str(args.data), model=args.model, epochs=args.epochs, augment=args.augment,
                       image_size=args.image_size, seed=args.seed, device=args.device)
    _outside(args.data, args.out)
    out = Path(args.out)
    return report_sweep(sweep(base, args.depths, args.from_scratch, out), out)


def _curve(args) -> int:
    with loading():
        from tlcore.config import TrainConfig
        from tlcore.jobs.curve import learning_curve
        from tlcore.jobs.entry import curve_request, report_curve

    if args.request:
        return curve_request(Path(args.request))
    if not args.data or not args.out:
        raise TLError("A learning curve needs --data (the images) and --out (a new folder).")
    base = TrainConfig(data=str(args.data), model=args.model, epochs=args.epochs, trainable_stages=0,
                       augment="none", image_size=args.image_size, device=args.device)
    _outside(args.data, args.out)
    return report_curve(learning_curve(base, Path(args.out)))


def _models(args) -> int:
    from tlcore.studio import availability, list_specs

    print(f"{'name':<24} {'params':>8} {'top-1':>6} {'MB':>6} {'speed':<7} {'stages':>6}  weights")
    for s in list_specs() + list_specs("text"):  # the text models' top-1 is 0: they have no ImageNet score
        print(f"{s.name:<24} {s.params_m:>7.1f}M {s.top1:>6.1f} {s.file_mb:>6.1f} {s.speed:<7} "
              f"{len(s.stages):>6}  {availability(s)}")
    return 0


# Commands that write in the studio's folder (the device pool's locks, stored images): it is checked first.
NEEDS_WORKSPACE = {"train", "run", "rerun", "standby", "sweep", "curve", "suggest", "label"}
COMMANDS = {"train": _train, "run": _run, "standby": _standby, "rerun": _rerun, "cancel": _cancel,
            "predict": _predict, "export": _export, "sweep": _sweep, "curve": _curve, "models": _models,
            **labelling.COMMANDS}


def main(argv: list[str] | None = None) -> int:
    """Entry point; bad input ends with a one-line reason and a non-zero exit code."""
    args = _parser().parse_args(argv)

    def work() -> int:
        if args.command in NEEDS_WORKSPACE:
            writable_workspace()
        return COMMANDS[args.command](args)

    return guarded(args.command, work)


def console() -> None:
    """The process entry point (``python -m tlcore`` and the ``tlcore`` command): ``main``, then exit.

    Python's last garbage collection walks every object torch and its neighbours created: 1-2.5 s
    on 2 cores after the command's work is done. Frozen objects are skipped; the process memory
    is returned to the system at exit all the same."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
