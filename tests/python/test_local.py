"""One-rank communicator in this process: argument validation and its exact
messages, the exception hierarchy, Work, stores."""
import builtins

import numpy as np
import pytest

import weft


@pytest.fixture(scope="module")
def comm():
    store = weft.HashStore()
    return weft.Communicator.init(store, 0, 1)


def test_types():
    assert weft.DataType.bf16.itemsize == 2
    assert weft.ReduceOp.avg.name == "avg"
    assert issubclass(weft.MismatchError, weft.Error)
    assert issubclass(weft.TimeoutError, builtins.TimeoutError)
    assert issubclass(weft.InvalidArgumentError, ValueError)
    assert issubclass(weft.PeerLostError, ConnectionError)
    assert weft.MismatchError.code == weft.ErrorCode.Mismatch


@pytest.mark.parametrize("call, message", [
    (lambda c: c.allreduce(np.ones(4, np.float32), np.zeros(3, np.float32)),
     "allreduce: recv has 3 elements, send has 4"),
    (lambda c: c.allreduce(np.ones(4, np.float32), np.zeros(4, np.int32)),
     "allreduce: recv is i32 but send is f32"),
    (lambda c: c.allgather(np.ones(4), np.zeros(5)),
     "allgather: recv has 5 elements, expected 4 (size 1 x 4)"),
    (lambda c: c.reduce_scatter(np.ones(4), np.zeros(3)),
     "reduce_scatter: send has 4 elements, expected 3 (size 1 x 3)"),
    (lambda c: c.allreduce(np.ones((4, 4), np.float32)[:, 0]),
     "allreduce: send is not C-contiguous (numpy.ascontiguousarray makes a contiguous copy)"),
    (lambda c: c.allreduce(np.ones(4, np.int16)),
     "allreduce: send has element format 'h' (2 bytes), which weft does not support: use "
     "float16/32/64, int8/32/64 or uint8/32/64 (or pass dtype=DataType.bf16 for bfloat16 bits "
     "in 2-byte items)"),
    (lambda c: c.allreduce(np.ones(4, np.float32), dtype=weft.DataType.f64),
     "allreduce: send has items of 4 bytes, but dtype f64 has 8"),
    (lambda c: c.allreduce(b"abcd"), "allreduce: send is read-only"),
    (lambda c: c.broadcast([1, 2, 3]),
     "broadcast: buf must support the buffer protocol (a numpy array, bytearray, ...) or "
     "__cuda_array_interface__ (a torch CUDA tensor, a cupy array, ...), not list"),
    (lambda c: c.allgatherv(np.ones(2), np.zeros(2), [1]),
     "allgatherv: send has 2 elements but counts[0] is 1"),
    (lambda c: c.gather(np.ones(2), None), "gather: recv is required here"),
])
def test_invalid_arguments_raise_with_exact_messages(comm, call, message):
    with pytest.raises(weft.InvalidArgumentError) as info:
        call(comm)
    assert info.value.message == message
    assert str(info.value) == message
    assert info.value.code == weft.ErrorCode.InvalidArgument


def test_buffer_protocol_objects_and_work(comm):
    b = bytearray(b"\x01\x02\x03")
    w = comm.allreduce(b, async_op=True)
    w.wait()
    assert w.completed() and w.test()
    assert w.describe() == "rank 0: allreduce #" + w.describe().split("#")[1]
    assert bytes(b) == b"\x01\x02\x03"
    m = memoryview(bytearray(8)).cast("d")
    comm.broadcast(m)
    assert comm.rank == 0 and comm.size == 1


def test_stores():
    server = weft.StoreServer.start("127.0.0.1", 0)
    tcp = weft.TcpStore("127.0.0.1", server.port, timeout=1)
    for store in (weft.HashStore(), tcp, weft.PrefixStore("p", tcp)):
        store.set("k", b"v\x00w")
        assert store.get("k") == b"v\x00w"
        assert store.add("n", 5) == 5 and store.add("n", -2) == 3
        assert store.check(["k", "n"]) and not store.check(["missing"])
        assert store.compare_set("k", b"v\x00w", "x") == b"x"
        store.multi_set(["a", "b"], [b"1", b"2"])
        assert store.multi_get(["a", "b"]) == [b"1", b"2"]
        store.append("a", b"3")
        assert store.get("a") == b"13"
        store.queue_push("q", b"item")
        assert store.queue_len("q") == 1 and store.queue_pop("q") == b"item"
        assert store.queue_pop("q", block=False) is None
        assert store.delete_key("b") and not store.delete_key("b")
        store.timeout = 0.2
        with pytest.raises(weft.TimeoutError) as info:
            store.get("never")
        assert "never" in info.value.message
    assert weft.PrefixStore("p", tcp).prefix == "p"
    assert tcp.get("p/k") == b"x"
    server.stop()
