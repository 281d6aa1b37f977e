"""Measures: a model and a split in, numbers out (no I/O, no formatting) — the paper's sharpness and its
subspace, Hessian spectra, flatness, the gradient noise scale, 1-D paths and 2-D surfaces."""
