"""params.yaml as typed, validated views: `schema` checks names and types of the whole file, `read` is the
one set of validators, and `core`, `measures` and `experiments` hold one frozen dataclass per stage."""

from lbgap.params.read import ParamsError
from lbgap.params.schema import check_params

__all__ = ["ParamsError", "check_params"]
