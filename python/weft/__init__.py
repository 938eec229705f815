"""weft: collective communication for distributed training.

    import numpy as np, weft
    comm = weft.Communicator.init_from_env()        # RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
    x = np.ones(1024, dtype=np.float32)
    comm.allreduce(x, op=weft.ReduceOp.avg)          # in place; waits
    w = comm.allgather(x, out, async_op=True)        # a weft.Work
    w.wait()

Buffers are numpy arrays or any object with the (C-contiguous) buffer protocol;
the element type comes from the buffer format, or from ``dtype=`` (e.g.
``weft.DataType.bf16`` for uint16 arrays holding bfloat16 bits).

On GPUs (one process per GPU of a host):

    comm = weft.Communicator.init_from_env(device=f"cuda:{local_rank}")
    t = torch.ones(1024, device="cuda")              # any __cuda_array_interface__ object
    comm.allreduce(t)                                # on torch's current stream; waits
    comm.allreduce(t, async_op=True, stream=s.cuda_stream)   # or name the stream
"""
from ._weft import (  # noqa: F401
    Communicator,
    DataType,
    Device,
    ErrorCode,
    HashStore,
    PrefixStore,
    ReduceOp,
    Store,
    StoreServer,
    TcpStore,
    Work,
    built_with_cuda,
)
from .errors import (  # noqa: F401
    AbortedError,
    CudaError,
    Error,
    InternalError,
    InvalidArgumentError,
    MismatchError,
    PeerLostError,
    SystemCallError,
    TimeoutError,
    UnsupportedError,
)

from . import ddp  # noqa: F401,E402

__version__ = "0.1.0"
