"""The shape of params.yaml: every key lbgap knows and the type of its value.

`check_params` walks a parsed params file against `SCHEMA` before any stage reads it, so a typo
(`bach:`, `train.max_epoch:`), a wrong-typed section (`runtime.models: abc`, `train.betas: [a, b]`) or a
non-finite number (`lr: .inf`) ends every stage with one line naming the key — and, for an unknown
key, the closest known one. Ranges and relations between keys are checked by the stages' typed views
(lbgap.params.core, .measures, .experiments, .options); this module checks only names and types.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from lbgap.models import list_models, model_options
from lbgap.params.read import ParamsError, is_int, is_number, unknown_key
from lbgap.remedies.registry import list_strategies

Check = Callable[[Any], str | None]  # value → what is wrong with it, or None


def integer(v: Any) -> str | None:
    return None if is_int(v) else "must be an integer"


def number(v: Any) -> str | None:
    return None if is_number(v) else "must be a finite number"


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def string(v: Any) -> str | None:
    return None if isinstance(v, str) else "must be a string"


def optional(check: Check) -> Check:
    return lambda v: None if v is None else check(v)


def list_of(check: Check, length: int | None = None) -> Check:
    def check_list(v: Any) -> str | None:
        if not isinstance(v, list) or not v or (length is not None and len(v) != length):
            return f"must be a list of {length or 'one or more'} entries"
        for entry in v:
            if (problem := check(entry)) is not None:
                return f"has an entry that {problem} ({entry!r})"
        return None

    return check_list


INT, NUM = integer, number
SCHEMA: dict[str, Any] = {
    "seeds": INT, "batch": INT, "small_batch": INT, "mitigation_seeds": INT, "bn_statistics": string,
    "runtime": {
        "model": string, "eval_chunk": INT, "batchnorm": string, "device": string, "amp": boolean,
        "threads": optional(INT), "workers": INT, "sync_batchnorm": boolean,
        "models": "models",  # checked against the model registry (`_check_models`)
    },
    "data": {
        "name": string, "num_train": optional(INT), "num_test": optional(INT), "seed": INT, "standardize": boolean,
        "root": string, "path": optional(string), "checksums": boolean, "download": boolean,
    },
    "train": {"max_epochs": INT, "patience": INT, "min_delta": NUM, "lr": NUM, "betas": list_of(NUM, 2), "target_loss": NUM},
    "sharpness": {
        "epsilons": list_of(NUM), "subspace_dim": INT, "method": string, "ascents": list_of(string), "starts": INT,
        "max_iter": INT, "plateau": NUM, "seed": INT,
    },
    "interpolate": {"seed": INT, "alpha_min": NUM, "alpha_max": NUM, "points": INT},
    "sweep": {"batches": list_of(INT), "epochs": INT, "seeds": INT, "drop": NUM},
    "warm_start": {"sb_epochs": INT, "every": INT, "lb_epochs": INT, "seed": INT},
    "trajectory": {"at": list_of(INT), "seed": INT},
    "curvature": {
        "samples": optional(INT), "seed": INT, "lanczos": {"top_k": INT, "steps": INT},
        "trace": {"tol": NUM, "max_probes": INT}, "density": {"runs": INT, "steps": INT},
        "epsilons": list_of(NUM), "adaptive_eta": list_of(NUM),
        "pac_bayes": {"max_drop": NUM, "draws": INT, "steps": INT, "epsilon": NUM},
        "noise_scale": {"small": INT, "big": INT, "batches": INT},
    },
    "rescaling": {"factor": NUM, "block": INT, "seed": INT},
    "surface": {"span": NUM, "points": INT, "plane_min": NUM, "plane_max": NUM, "seed": INT},
    "remedies": list_of(string),  # the entries of `mitigation` that run (`strategy_names`)
    "mitigation": "mitigation",  # strategy name → its options (`_check_mitigation`)
    "predictors": {"min_train_accuracy": NUM, "bootstrap": INT, "confidence": NUM, "seed": INT},
}


def _check_section(raw: Any, schema: Mapping[str, Any], prefix: str) -> None:
    if not isinstance(raw, Mapping):
        raise ParamsError(f"params: '{prefix.rstrip('.') or 'the file'}' must be a mapping of keys (got {raw!r})")
    for key, value in raw.items():
        if not isinstance(key, str) or key not in schema:
            raise unknown_key(str(key), prefix, list(schema))
        expected = schema[key]
        if expected == "models":
            _check_models(value)
        elif expected == "mitigation":
            _check_mitigation(value)
        elif isinstance(expected, Mapping):
            _check_section(value, expected, f"{prefix}{key}.")
        elif (problem := expected(value)) is not None:
            raise ParamsError(f"params: '{prefix}{key}' {problem} (got {value!r})")


def _check_models(raw: Any) -> None:
    """`models`: registered network name → a mapping of its builder's options (or nothing)."""
    if not isinstance(raw, Mapping):
        raise ParamsError(f"params: 'runtime.models' must be a mapping of network name → options (got {raw!r})")
    for name, options in raw.items():
        if name not in list_models():
            raise unknown_key(str(name), "runtime.models.", list_models())
        if options is None:
            continue
        if not isinstance(options, Mapping):
            raise ParamsError(f"params: 'runtime.models.{name}' must be a mapping of options (got {options!r})")
        known = list(model_options(name))
        for option, value in options.items():
            if option not in known:
                if not known:
                    raise ParamsError(f"params: network '{name}' takes no options (got 'runtime.models.{name}.{option}')")
                raise unknown_key(str(option), f"runtime.models.{name}.", known)
            if not (is_number(value) or isinstance(value, (bool, str))):
                raise ParamsError(f"params: 'runtime.models.{name}.{option}' must be a finite number, true/false or a string (got {value!r})")


def _check_mitigation(raw: Any) -> None:
    """`mitigation`: registered strategy name → a mapping of its options (typed by MitigationParams)."""
    if not isinstance(raw, Mapping):
        raise ParamsError(f"params: 'mitigation' must be a mapping of strategy name → options (got {raw!r})")
    for name, options in raw.items():
        if name not in list_strategies():
            raise unknown_key(str(name), "mitigation.", list_strategies())
        if not isinstance(options, Mapping):
            raise ParamsError(f"params: 'mitigation.{name}' must be a mapping of options (got {options!r})")


def check_params(raw: Any) -> None:
    """Raise ParamsError for the first unknown key or wrong-typed value in a parsed params file."""
    _check_section(raw, SCHEMA, "")
