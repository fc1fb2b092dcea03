"""The studio's front door: every operation the pages and the command line perform (plan a run,
start, watch and stop it, import data and weights, export, list runs) and the values they pass.

The pages import only this package (``from tlcore.studio import ...``) and their own display
helpers; ``tests/test_front_door.py`` checks it. The work itself lives in the engine's packages
(``data``, ``models``, ``training``, ``jobs``, ``use``); this package decides nothing of its own.
"""

from __future__ import annotations

from importlib import import_module

from tlcore.errors import TLError

# Data, models, runs and exports.
# Values and light helpers, imported at once: none of them loads PyTorch, so the navigation's
# log-in check (which needs only the password helpers) draws within a second of a visit.
from tlcore.config import AUTO, DEFAULT_MODEL, FASTEST, MOST_ACCURATE, TrainConfig
from tlcore.markdown import escape, plot_text
from tlcore.models.catalog import ModelSpec, get_spec, list_specs, params_text
from tlcore.record import ACTIVE, DAMAGED, NotSureRule, RecordError, RunRecord, Score, in_texts
from tlcore.rundir import TITLE_CHARS, RunDir
from tlcore.sharing import GUESSES, PASSWORD_SECRET, client_of, password_problem, too_many
from tlcore.workspace import load_choices, save_choices, tidy_workspace, writable_workspace

# Settings: the run's settings as the pages offer them (tlcore.studio.settings).
from tlcore.studio import settings

# Operations, each in the submodule named for what it holds, loaded when a page first asks for
# one of its names (they load PyTorch). A submodule imports some names only to offer them here.
_OPERATIONS = {
    # Planning and running: a run's Plan is decided once (the Strategy page previews it, the Train page
    # and the command line start it, the run records and follows it: tlcore.jobs.plan).
    "plans": ("Estimate", "Plan", "Recommendation", "device_words", "ensemble_ready", "gpu_name", "plan",
              "recipe_costs", "resolve_device", "stage_param_counts", "start"),
    "datasets": ("FEW_IMAGES", "BurstPace", "BurstRecorder", "audit_dataset", "available_samples",
                 "check_trainable", "class_folders", "class_names", "dataset_folder", "dataset_summary",
                 "import_class_images", "import_zip", "list_datasets", "load_sample", "open_dataset", "picture",
                 "remove_blank", "remove_copies", "split_counts"),
    "models": ("availability", "download_weights", "import_weights", "model_of_run", "model_title",
               "reachable", "weights_package", "weights_state", "weights_url"),
    "runs": ("class_history", "config_of", "delete_run", "device_slots", "diff", "history", "image_size_for",
             "is_trained", "keep_picked", "keep_warm", "list_runs", "newest_active_run", "picked_run", "progress",
             "refuse_outside_workspace", "rerun", "resume", "run_config", "run_named", "run_score", "start_run",
             "summary", "title_of", "trained_runs"),
    "studies": ("CURVE_POINTS", "list_curves", "list_sweeps", "start_curve", "start_sweep"),
    "exports": ("bundle_zip", "export_file", "export_is_current", "export_stamps", "export_to_run", "model_card",
                "write_card", "write_web_demo"),
    "predictions": ("FrameClassifier", "LiveFeed", "Predictor", "frame_jpeg", "live_classifier", "load_predictor",
                    "model_changed", "predict_uploads", "results_csv"),
    "notsure": ("coverage_of", "coverage_sentence", "keep_not_sure_rule", "rule_of", "rule_sentence"),
    "evaluation": ("advise", "calibration_sentence", "gradcam"),
    # Labelling: the unlabelled pool, suggestions in the order to check them, confirmed labels and undo.
    "labelling": ("Suggested", "accuracy_history", "add_to_pool", "add_uploads_to_pool", "apply_labels_csv",
                  "bulk_accept", "compute_features", "confirm", "how_labelled", "pool_images", "pool_state", "skip",
                  "suggest_for_run", "suggestions", "suggestions_csv", "undo"),
    "labelling_background": ("Labeller",),
    # Text projects
    "texts": ("TEXT_MODEL", "TextData", "TextItem", "add_typed_texts", "audit_texts", "dataset_kind",
              "import_text_path", "import_texts", "open_texts", "run_texts", "table_columns", "text_audit",
              "text_folder", "type_texts"),
    "text_use": ("TextPredictor", "WordEffects", "load_text_predictor", "predict_text_table", "text_onnx_zip",
                 "text_results_csv", "word_effects"),
}
_HOLDER = {name: module for module, names in _OPERATIONS.items() for name in names}

__all__ = [
    "TLError",
    # Data, models, runs and exports
    "ACTIVE", "AUTO", "DAMAGED", "DEFAULT_MODEL", "FASTEST", "MOST_ACCURATE", "load_choices", "save_choices", "GUESSES", "PASSWORD_SECRET", "TITLE_CHARS", "ModelSpec", "NotSureRule",
    "RecordError", "RunDir", "RunRecord", "Score", "TrainConfig", "client_of", "escape", "get_spec", "list_specs",
    "in_texts", "params_text", "password_problem", "plot_text", "tidy_workspace", "too_many", "writable_workspace",
    # Settings
    "settings",
    *_HOLDER,
]


def __getattr__(name: str):
    """An operation's name, from its submodule (imported on first use)."""
    module = _HOLDER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
