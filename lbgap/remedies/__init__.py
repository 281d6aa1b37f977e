"""Remedies for the large-batch gap, one module each, registered with `lbgap.remedies.registry`.

The paper (appendix) tried data augmentation, conservative (proximal) training and robust/adversarial
training; we add sharpness-aware minimization (SAM, Foret et al. 2021) and its adaptive variant (ASAM,
Kwon et al. 2021). Every remedy's step wraps the same base optimizer (Adam) that plain training uses, so
a remedy changes one thing only. To add one, see lbgap/remedies/registry.py.
"""
