"""lbgap.report.curvature_figures: the eigenvalue density integrates to one per regime, and each
figure plots the data it is given."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lbgap.report.curvature_figures import density_figure, epsilon_figure, surface_figure


def test_the_pooled_density_of_each_regime_has_unit_mass():
    spectra = {
        "sb": pd.DataFrame({"seed": [0, 0, 1, 1], "node": [0.0, 1.0, 0.5, 2.0], "weight": [0.5, 0.5, 0.9, 0.1]}),
        "lb": pd.DataFrame({"seed": [0, 0], "node": [0.2, 3.0], "weight": [0.7, 0.3]}),
    }
    axis = density_figure(spectra, {"sb": 256, "lb": 4000}).axes[0]
    assert len(axis.get_lines()) == 2
    for line in axis.get_lines():
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert abs(np.trapezoid(y, x) - 1) < 1e-3


def test_phi_against_epsilon_is_log_log_with_the_means():
    frame = pd.DataFrame({"epsilon": [1e-4, 1e-3], "phi_mean": [0.5, 17.0], "phi_std": [0.1, None]})
    axis = epsilon_figure({"sb": frame}, {"sb": 256}, 3).axes[0]
    assert axis.get_xscale() == axis.get_yscale() == "log" and "n = 3 seeds" in axis.get_title()
    np.testing.assert_allclose(np.asarray(axis.get_lines()[0].get_ydata(), dtype=float), [0.5, 17.0])


def test_surfaces_are_three_panels_titled_with_the_bn_mode():
    around, plane = [-1.0, 0.0, 1.0], [0.0, 1.0]
    grids = {"sb": np.full((3, 3), 0.1), "lb": np.arange(1.0, 10.0).reshape(3, 3), "plane": np.array([[2.0, 0.1], [0.2, 0.3]])}
    grids["sb"][1, 1] = 0.01
    figure = surface_figure(around, plane, grids, {"sb": 256, "lb": 4000}, "interpolate")
    panels = [axis for axis in figure.axes if axis.get_title()]
    assert [axis.get_title() for axis in panels] == ["around SB (batch 256)", "around LB (batch 4000)", "plane through x0, SB and LB"]
    assert "interpolate" in figure._suptitle.get_text()
    assert [t.get_text() for t in panels[2].texts] == ["x0", "SB", "LB"]
