"""weft.ddp: the gradient bucketing reducer (see docs/ddp.md).

    reducer = weft.ddp.Reducer(comm, [g0, g1, ...])   # numpy gradient arrays
    reducer.mark_ready(i)                             # as each gradient is computed
    reducer.finalize()                                # every array holds the average
"""
from ._weft import ddp as _ddp

Reducer = _ddp.Reducer
