"""Training: the loop and its stopping rule (`loop`), whole-split evaluation (`evaluation`), BatchNorm
statistics at foreign weights (`batchnorm`), one run per seed (`seeds`) and checkpoints on disk
(`checkpoint`). The remedies, which supply their own training step, live in lbgap/remedies/."""
