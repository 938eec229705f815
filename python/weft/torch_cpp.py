"""weft.torch_cpp: backend "weft_cpp" for torch.distributed, in C++.

    import torch.distributed as dist
    import weft.torch_cpp                  # registers the backend
    dist.init_process_group("weft_cpp")    # under weftrun or torchrun (env://)
    model = torch.nn.parallel.DistributedDataParallel(model)

The backend is ``weft._c10d.WeftBackend``, a ``c10d::Backend`` subclass
(python/c10d/) on weft Communicators, registered for CPU and CUDA tensors
(CUDA tensors go through a CUDA communicator made by the group's first
operation on them, enqueued on torch's current stream as NCCL's are). Unlike the
Python-level backend "weft" (weft.torch), no Python runs per operation: torch's
dispatcher calls the C++ backend directly and its Works hold real
``c10::ivalue::Future``s, completed by a C++ thread. The price is that
``weft._c10d`` is compiled against one torch release (it exists only where
torch was importable when weft was built: configure with
``-DWEFT_TORCH_PYTHON=<python with torch>``) and refuses any other.

The rendezvous runs through the store torch hands the backend (TCPStore,
FileStore, PrefixStore, ...), no second server.
"""
import torch
import torch.distributed as dist

BACKEND = "weft_cpp"

try:
    from . import _c10d
except ImportError as e:  # not built here (no torch at build time) or a broken build
    raise ImportError(
        "weft.torch_cpp: the extension weft._c10d is not available (it is built only where "
        "torch was importable at configure time: pass -DWEFT_TORCH_PYTHON=<python with "
        f"torch>): {e}") from e


def _base_version(v):
    return v.split("+")[0]


if _base_version(torch.__version__) != _c10d.TORCH_VERSION:
    raise ImportError(f"weft.torch_cpp: weft._c10d was built against torch {_c10d.TORCH_VERSION}"
                      f" but torch {torch.__version__} is loaded; rebuild weft with this torch")


def _create(backend_options, _pg_options=None):
    """The creator torch calls (extended_api=True) for each new group."""
    o = backend_options
    return _c10d.WeftBackend(o.store, o.group_rank, o.group_size, o.timeout, str(o.group_id))


def _register():
    if hasattr(dist.Backend, BACKEND.upper()):
        return  # registered before (a reload)
    dist.Backend.register_backend(BACKEND, _create, extended_api=True, devices=["cpu", "cuda"])


_register()
