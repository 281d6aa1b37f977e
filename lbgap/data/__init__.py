"""Data: where samples come from (`sources`) and the in-memory data sets every stage shares (`sets`)."""

from lbgap.data.sets import (
    DATA_SETS,
    DataSet,
    Split,
    from_arrays,
    make_data_set,
    to_arrays,
    training_subset,
    tuning_from_arrays,
)

__all__ = ["DATA_SETS", "DataSet", "Split", "from_arrays", "make_data_set", "to_arrays", "training_subset", "tuning_from_arrays"]
