"""lbgap.params.measures: the sharpness, interpolation, curvature, noise-scale, rescaling and surface views."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lbgap.params import ParamsError
from lbgap.params.measures import (
    CurvatureParams,
    InterpolateParams,
    NoiseScaleParams,
    ProbeParams,
    RescalingParams,
    SharpnessParams,
    SurfaceParams,
)

REPO = Path(__file__).resolve().parents[2]  # the repository root

BAD = [
    (SharpnessParams.parse, "sharpness.epsilons", [1e-3, 0], "every 'sharpness.epsilons' entry must be a finite number > 0"),
    (SharpnessParams.parse, "sharpness.epsilons", [-1e-3], "every 'sharpness.epsilons' entry must be a finite number > 0"),
    (SharpnessParams.parse, "sharpness.epsilons", [], "'sharpness.epsilons' must be a non-empty list"),
    (SharpnessParams.parse, "sharpness.max_iter", 0, "'sharpness.max_iter' must be an integer >= 1"),
    (SharpnessParams.parse, "sharpness.method", "best", "unknown sharpness method 'sharpness.method: best'; known: paper, validated"),
    (SharpnessParams.parse, "sharpness.ascents", ["lbfgsb", "pgd"], "'sharpness.ascents' must be a non-empty list of lbfgsb, lbfgsb_log, apgd"),
    (SharpnessParams.parse, "sharpness.starts", 0, "'sharpness.starts' must be an integer >= 1"),
    (SharpnessParams.parse, "sharpness.plateau", -0.1, "'sharpness.plateau' must be >= 0"),
    (InterpolateParams.parse, "interpolate.alpha_max", -1.0, "the α range is empty"),
    (InterpolateParams.parse, "interpolate.alpha_max", -2.0, "the α range is empty"),
    (InterpolateParams.parse, "interpolate.seed", 2, "'interpolate.seed' = 2 must be < 'seeds' = 2"),
    (CurvatureParams.parse, "curvature.lanczos.top_k", 9, "'curvature.lanczos.top_k' = 9 exceeds 'curvature.lanczos.steps' = 5"),
    (CurvatureParams.parse, "curvature.trace.tol", -0.1, "'curvature.trace.tol' must be >= 0"),
    (CurvatureParams.parse, "curvature.epsilons", [0.001, 0], "every 'curvature.epsilons' entry must be a finite number > 0"),
    (CurvatureParams.parse, "curvature.adaptive_eta", [-1], "every 'curvature.adaptive_eta' entry must be a finite number >= 0"),
    (CurvatureParams.parse, "curvature.noise_scale.big", 4, "'curvature.noise_scale.small' must be < 'curvature.noise_scale.big'"),
    (CurvatureParams.parse, "curvature.samples", 0, "'curvature.samples' must be an integer >= 1"),
    (RescalingParams.parse, "rescaling.factor", 0, "'rescaling.factor' must be > 0"),
    (RescalingParams.parse, "rescaling.seed", 5, "'rescaling.seed' = 5 must be < 'seeds' = 2"),
    (SurfaceParams.parse, "surface.plane_max", -1.0, "'surface.plane_min' must be < 'surface.plane_max'"),
    (SurfaceParams.parse, "surface.points", 1, "'surface.points' must be an integer >= 2"),
]


@pytest.mark.parametrize(("parse", "key", "value", "message"), BAD)
def test_bad_measure_params_are_refused(parse, key, value, message, tiny_params, set_key):
    with pytest.raises(ParamsError) as error:
        parse(set_key(tiny_params, key, value))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_noise_scale_is_refused_under_batch_statistics_only_where_it_is_measured(tiny_params, set_key):
    raw = set_key(tiny_params, "runtime.batchnorm", "batch")
    with pytest.raises(ParamsError, match="undefined with 'batchnorm: batch'"):
        CurvatureParams.parse(raw, measures_noise=True)
    assert CurvatureParams.parse(raw).noise.batches == 2  # rescaling and surface never measure it
    assert NoiseScaleParams.parse(set_key(raw, "curvature.noise_scale.batches", 0)).batches == 0


def test_the_probe_reads_only_the_first_epsilon(tiny_params, set_key):
    assert ProbeParams.parse(set_key(tiny_params, "sharpness.epsilons", [0.002, "later entries are not read"])).epsilon == 0.002


def test_the_committed_params_parse_and_the_grids_hit_the_solutions():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    alphas = InterpolateParams.parse(raw).alphas
    assert len(alphas) == 25 and alphas[0] == -1.0 and alphas[-1] == 2.0 and 0.0 in alphas and 1.0 in alphas
    curvature = CurvatureParams.parse(raw, measures_noise=True)
    assert curvature.epsilon == raw["sharpness"]["epsilons"][0] and 0.0 in curvature.adaptive_etas
    assert curvature.eval_chunk == raw["runtime"]["eval_chunk"]
    assert RescalingParams.parse(raw).factor > 0
    axis = SurfaceParams.parse(raw).axis(-1.0, 1.0)
    assert axis[0] == -1.0 and axis[-1] == 1.0 and len(axis) == raw["surface"]["points"]
