"""Device buffers without a GPU: weft.Device parsing, __cuda_array_interface__
validation with its exact messages, and the refusal of CUDA memory by a host
communicator (fake interface objects describing host memory: weft must reject
them before anything touches the pointer). The GPU side is test_cuda.py."""
import types

import numpy as np
import pytest

import weft


@pytest.fixture(scope="module")
def comm():
    return weft.Communicator.init(weft.HashStore(), 0, 1, name="device-buffers")


class FakeCuda:
    """An object exporting __cuda_array_interface__ (like a torch CUDA tensor or
    a cupy array) for a numpy array's memory; `overrides` edit the dict."""

    def __init__(self, array, **overrides):
        self.array = array
        self.overrides = overrides

    @property
    def __cuda_array_interface__(self):
        a = self.array
        d = dict(shape=a.shape, typestr=a.dtype.str, data=(a.ctypes.data, False), version=3,
                 strides=None)
        d.update(self.overrides)
        return d


HOST_COMM = 'but this communicator works on host memory: create it with device="cuda:N" ' \
            "to pass device buffers"


def test_device_parsing():
    assert str(weft.Device("cuda:3")) == "cuda:3"
    assert weft.Device("cuda:3").index == 3 and weft.Device("cuda:3").type == "cuda"
    assert weft.Device(1) == weft.Device.cuda(1) == weft.Device("cuda:1")
    assert weft.Device("cpu") == weft.Device.cpu() != weft.Device(0)
    assert weft.Device("cpu").index is None
    assert repr(weft.Device(2)) == "weft.Device('cuda:2')"
    # anything shaped like torch.device
    assert weft.Device(types.SimpleNamespace(type="cuda", index=5)) == weft.Device(5)
    assert weft.Device(types.SimpleNamespace(type="cpu", index=None)) == weft.Device.cpu()
    with pytest.raises(weft.InvalidArgumentError) as e:
        weft.Device("cuda")
    assert e.value.message == (
        'device "cuda" names no GPU: a communicator runs on one GPU, say which ("cuda:N", '
        "e.g. the process's LOCAL_RANK)")
    for bad, shown in (("gpu:1", "'gpu:1'"), ("cuda:x", "'cuda:x'"), (-1, "-1"), (True, "True")):
        with pytest.raises(weft.InvalidArgumentError) as e:
            weft.Device(bad)
        assert e.value.message == (f"device {shown} is not a device: use \"cpu\", \"cuda:N\", an "
                                   "int N (GPU N) or a weft.Device")


def test_host_communicator_reports_cpu(comm):
    assert comm.device == weft.Device.cpu()


FAKE = f"{FakeCuda.__module__}.FakeCuda"   # how weft names the class in messages


@pytest.mark.parametrize("make, kind", [
    (lambda x: FakeCuda(x), FAKE),
    (lambda x: (x.ctypes.data, x.size, weft.DataType.f32), "tuple"),
    (lambda x: (x.ctypes.data, x.size), "tuple"),   # dtype= below
])
def test_host_communicator_refuses_cuda_memory(comm, make, kind):
    x = np.arange(8, dtype=np.float32)
    with pytest.raises(weft.InvalidArgumentError) as e:
        comm.allreduce(make(x), dtype=weft.DataType.f32)
    assert e.value.message == f"allreduce: send is CUDA memory ({kind}), {HOST_COMM}"
    with pytest.raises(weft.InvalidArgumentError) as e:   # the second buffer is checked too
        comm.allgather(x, make(x), dtype=weft.DataType.f32)
    assert e.value.message == f"allgather: recv is CUDA memory ({kind}), {HOST_COMM}"
    np.testing.assert_array_equal(x, np.arange(8, dtype=np.float32))  # untouched


CAI = "allreduce: send (__cuda_array_interface__)"


@pytest.mark.parametrize("make, message", [
    (lambda x: FakeCuda(x, strides=(8,)), f"{CAI}: is not C-contiguous (torch: .contiguous(), "
                                          "cupy: cupy.ascontiguousarray)"),
    (lambda x: FakeCuda(x, mask=object()), f"{CAI}: masked arrays are not supported"),
    (lambda x: FakeCuda(x, typestr=">f4"),
     f"{CAI}: has typestr '>f4', which weft does not support: use float16/32/64, int8/32/64 or "
     "uint8/32/64 (or pass dtype=DataType.bf16 for bfloat16 bits in 2-byte items)"),
    (lambda x: FakeCuda(x, typestr="<c8"),
     f"{CAI}: has typestr '<c8', which weft does not support: use float16/32/64, int8/32/64 or "
     "uint8/32/64 (or pass dtype=DataType.bf16 for bfloat16 bits in 2-byte items)"),
    (lambda x: FakeCuda(x, data=(0, False)), f"{CAI}: has a null pointer for 8 elements"),
    (lambda x: FakeCuda(x, data=x.ctypes.data), f"{CAI}: data is not a (pointer, readonly) tuple"),
    (lambda x: FakeCuda(x, shape=[8]), f"{CAI}: shape is not a tuple"),
    (lambda x: FakeCuda(x, data=(x.ctypes.data, True)), "allreduce: send is read-only"),
    (lambda x: types.SimpleNamespace(__cuda_array_interface__=[1]),
     "types.SimpleNamespace.__cuda_array_interface__ is not a dict"),
    (lambda x: (x.ctypes.data,),
     "allreduce: send must be (pointer, count) or (pointer, count, dtype): a CUDA device "
     "pointer (int), an element count (int) and a weft.DataType; got a tuple of 1"),
    (lambda x: (x.ctypes.data, 8), "allreduce: send: a (pointer, count) tuple needs a dtype "
                                   "(third element or dtype=)"),
    (lambda x: (x.ctypes.data, -1, weft.DataType.f32), "allreduce: send: negative count -1"),
    (lambda x: object(),
     "allreduce: send must support the buffer protocol (a numpy array, bytearray, ...) or "
     "__cuda_array_interface__ (a torch CUDA tensor, a cupy array, ...), not object"),
])
def test_cuda_array_interface_is_validated(comm, make, message):
    x = np.arange(8, dtype=np.float32)
    with pytest.raises(weft.InvalidArgumentError) as e:
        comm.allreduce(make(x))   # in place: send is written
    assert e.value.message == message


def test_dtype_override_and_typestrs(comm):
    x = np.arange(8, dtype=np.uint16)
    with pytest.raises(weft.InvalidArgumentError) as e:
        comm.allreduce(FakeCuda(x), dtype=weft.DataType.f32)
    assert e.value.message == (f"{CAI}: has items of 2 bytes (typestr '<u2'), but dtype f32 "
                               "has 4")
    # bf16 bits in 2-byte items pass validation and reach the memory check
    with pytest.raises(weft.InvalidArgumentError) as e:
        comm.allreduce(FakeCuda(x), dtype=weft.DataType.bf16)
    assert e.value.message == f"allreduce: send is CUDA memory ({FAKE}), {HOST_COMM}"
    # every supported typestr (and the one-byte '|' order) is accepted
    for dt in (np.float16, np.float32, np.float64, np.int8, np.uint8, np.int32, np.int64,
               np.uint32, np.uint64):
        with pytest.raises(weft.InvalidArgumentError) as e:
            comm.allreduce(FakeCuda(np.zeros(4, dt)))
        assert e.value.message == f"allreduce: send is CUDA memory ({FAKE}), {HOST_COMM}", dt


def test_an_interface_that_raises_keeps_its_error(comm):
    class Grad:
        @property
        def __cuda_array_interface__(self):
            raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad")

    with pytest.raises(RuntimeError, match="requires grad"):
        comm.allreduce(Grad())


def test_stream_is_ignored_by_a_host_communicator(comm):
    x = np.arange(4, dtype=np.float32)
    comm.allreduce(x, stream=12345)   # host memory: no stream involved
    np.testing.assert_array_equal(x, np.arange(4, dtype=np.float32))


def test_cuda_communicator_without_a_gpu_fails_cleanly():
    if weft.built_with_cuda:
        try:
            import ctypes
            ctypes.CDLL("libcuda.so.1")
            pytest.skip("a CUDA driver is present: test_cuda.py covers CUDA communicators")
        except OSError:
            pass
    with pytest.raises((weft.UnsupportedError, weft.CudaError)) as e:
        weft.Communicator.init(weft.HashStore(), 0, 1, device="cuda:0", name="nogpu")
    if not weft.built_with_cuda:
        assert isinstance(e.value, weft.UnsupportedError)
