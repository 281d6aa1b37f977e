"""Experiments: protocols that train and measure together — the sharpness survey, the batch-size sweep,
warm starts, sharpness along training, every curvature measure of a solution, Dinh et al.'s rescaling."""
