"""The plumbing under weft.torch: torch tensors as weft buffers, torch's
reduce ops as weft's, and the thread that completes torch futures.

Kept apart from weft/torch.py (the ProcessGroup itself) so that file reads as
"one method per collective". Nothing here imports torch at module level
except through the caller: weft.torch imports torch first.
"""
import logging
import queue
import threading

import torch
import torch.distributed as dist

_log = logging.getLogger("weft.torch")

from ._weft import DataType, ReduceOp
from .errors import InvalidArgumentError, UnsupportedError

# torch dtype -> (the dtype of the numpy view weft reads, weft dtype override).
# numpy has no bfloat16: bf16 tensors are viewed as int16 and tagged bf16;
# bool is viewed as uint8 (max/min are its or/and).
_VIEWS = {
    torch.float32: (None, None),
    torch.float64: (None, None),
    torch.float16: (None, None),
    torch.int8: (None, None),
    torch.uint8: (None, None),
    torch.int32: (None, None),
    torch.int64: (None, None),
    torch.bfloat16: (torch.int16, DataType.bf16),
    torch.bool: (torch.uint8, None),
}


def _reduce_ops():
    R = dist.ReduceOp
    return [(R.SUM, ReduceOp.sum), (R.PRODUCT, ReduceOp.prod), (R.MIN, ReduceOp.min),
            (R.MAX, ReduceOp.max), (R.AVG, ReduceOp.avg)]


def weft_op(op_name, torch_op):
    """torch's ReduceOp (an object or a RedOpType) as weft's; the bitwise ops
    and PREMUL_SUM have no weft counterpart."""
    for t, w in _reduce_ops():
        if torch_op == t:
            return w
    raise UnsupportedError(f"weft.torch: {op_name}: reduce op {torch_op} is not supported "
                           "(weft has SUM, PRODUCT, MIN, MAX and AVG)")


def check_tensor(op_name, t, role="tensor"):
    if not isinstance(t, torch.Tensor):
        raise InvalidArgumentError(f"weft.torch: {op_name}: {role} must be a torch.Tensor, "
                                   f"not {type(t).__name__}")
    if t.device.type not in ("cpu", "cuda"):
        raise UnsupportedError(
            f"weft.torch: {op_name}: {role} is on {t.device}: weft.torch takes CPU and CUDA "
            "tensors only")
    if t.layout != torch.strided:
        raise UnsupportedError(f"weft.torch: {op_name}: {role} has layout {t.layout}; "
                               "only dense (strided) tensors are supported")
    if t.dtype not in _VIEWS:
        raise UnsupportedError(f"weft.torch: {op_name}: {role} has dtype {t.dtype}, which "
                               "weft does not support (float16/32/64, bfloat16, int8/32/64, "
                               "uint8, bool)")


class Staged:
    """Tensors handed to one weft operation, zero-copy where possible.

    A contiguous CPU tensor is passed as ``t.numpy()`` (same memory, results
    land in place); a contiguous CUDA tensor is passed as itself (weft reads
    its ``__cuda_array_interface__``). A non-contiguous one goes through a
    contiguous copy that ``finish()`` writes back after the operation.

    Every tensor of one operation must be on one device (``self.device``).
    For CUDA tensors ``finish()`` runs right after the operation was
    enqueued, on the same (current) stream, so its copies follow the
    operation in stream order; for CPU tensors it runs once weft's Work
    completed.
    """

    def __init__(self, op_name):
        self.op = op_name
        self.dtype = None          # the weft dtype override of the last array (bf16)
        self.device = None         # the torch.device of every tensor
        self._writebacks = []
        self.keep = []             # tensors that must outlive the operation

    @property
    def cuda(self):
        return self.device is not None and self.device.type == "cuda"

    def array(self, t, role="tensor", write=False):
        check_tensor(self.op, t, role)
        if self.device is None:
            self.device = t.device
        elif t.device != self.device:
            raise InvalidArgumentError(f"weft.torch: {self.op}: {role} is on {t.device} but "
                                       f"another tensor of the operation is on {self.device}")
        src = t.detach()
        if not src.is_contiguous():
            copy = src.contiguous()
            if write:
                self._writebacks.append((t, copy))
            src = copy
        view_dtype, weft_dtype = _VIEWS[t.dtype]
        if view_dtype is not None:
            src = src.view(view_dtype)
        self.dtype = weft_dtype
        self.keep.append(src)
        return src if src.is_cuda else src.numpy()

    def with_tensor(self, t):
        """Notes t's device without staging it (for checks before staging)."""
        check_tensor(self.op, t)
        if self.device is None:
            self.device = t.device
        return self

    def later(self, fn):
        """Runs fn() after the operation (copies out of staging)."""
        self._writebacks.append((None, fn))

    def finish(self):
        with torch.no_grad():
            for dst, src in self._writebacks:
                if dst is None:
                    src()
                else:
                    dst.copy_(src)


def flat_like(tensors, numel=None):
    """A contiguous 1-D tensor for `tensors` concatenated (or `numel` elements)."""
    t0 = tensors[0]
    if numel is None:
        return torch.cat([t.detach().reshape(-1) for t in tensors])
    return torch.empty(numel, dtype=t0.dtype, device=t0.device)


def unflatten_into(flat, tensors):
    """Copies consecutive slices of `flat` into `tensors` (in place)."""
    offset = 0
    for t in tensors:
        n = t.numel()
        t.detach().copy_(flat[offset:offset + n].view(t.shape))
        offset += n


class Completer:
    """One thread per process group: waits for weft's Works in issue order and
    completes the matching torch futures (then-callbacks, e.g. DDP comm hooks,
    run here, as they run on Gloo's threads for Gloo). Operations are *issued*
    on the caller's thread, so every rank issues them in the same order.

    CUDA operations complete as NCCL's do: weft enqueued them on the caller's
    current stream, and the caller completed their CUDA-aware future
    (``torch.futures.Future(devices=...)``) right after, on that stream
    (``complete_cuda``): torch recorded its events there, behind the
    operation, and ``wait()`` / ``value()`` / ``then()`` make the waiter's
    current stream wait for them; no host thread waits for the device. This
    thread still waits for the device, to log a failure (which also fails
    every later operation of the communicator, so the caller sees it at the
    next one) and to keep the staging buffers alive until the device is done.
    """

    def __init__(self, name):
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, works, staged, future, result, stream=None):
        """`stream`: the torch.cuda.Stream of a CUDA operation (its staged
        copies were enqueued and its future completed already: `future` is
        None), None for a CPU one."""
        self._queue.put((works, staged, future, result, stream))

    @staticmethod
    def complete_cuda(future, result, stream):
        """Completes a CUDA operation's future on the issuing thread, with the
        operation's stream current (its events go behind the operation)."""
        with torch.cuda.stream(stream):
            future.set_result(result)

    def stop(self):
        self._queue.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            works, staged, future, result, stream = item
            try:
                for w in works:
                    w.wait()
                if staged is not None and stream is None:
                    staged.finish()
            except BaseException as e:  # weft.Error or a failed copy: the caller sees it
                if future is not None:
                    future.set_exception(e)
                else:
                    _log.warning("weft.torch: an operation failed on the device after it was "
                                 "enqueued (later operations raise it): %s", e)
                continue
            if future is None:
                continue
            try:
                future.set_result(result)
            except BaseException:  # a then-callback failed: its own future holds the error
                pass
