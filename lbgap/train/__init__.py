"""Training: the loop and its stopping rule (`loop`), whole-split evaluation (`evaluation`), BatchNorm
statistics at foreign weights (`batchnorm`), one run per seed (`seeds`), checkpoints on disk
(`checkpoint`) and the registry of remedies (`registry`; the remedies live in lbgap/remedies/)."""
