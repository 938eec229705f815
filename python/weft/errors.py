"""weft's exceptions: one class per weft::ErrorCode, all subclasses of weft.Error.

Each carries ``code`` (a weft.ErrorCode) and ``message`` (the text without the
code). Where a Python built-in means the same thing, the class also derives
from it (InvalidArgumentError is a ValueError, TimeoutError a builtins.TimeoutError,
PeerLostError a ConnectionError, ...), so generic handlers keep working.
"""
import builtins

from ._weft import ErrorCode


class Error(Exception):
    """Base of every weft error."""

    code = None

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidArgumentError(Error, ValueError):
    code = ErrorCode.InvalidArgument


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 (weft.TimeoutError)
    code = ErrorCode.Timeout


class PeerLostError(Error, ConnectionError):
    code = ErrorCode.PeerLost


class MismatchError(Error):
    code = ErrorCode.Mismatch


class AbortedError(Error):
    code = ErrorCode.Aborted


class SystemCallError(Error, OSError):
    code = ErrorCode.SystemError


class CudaError(Error):
    code = ErrorCode.CudaError


class UnsupportedError(Error, NotImplementedError):
    code = ErrorCode.Unsupported


class InternalError(Error):
    code = ErrorCode.Internal


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgumentError, TimeoutError, PeerLostError, MismatchError, AbortedError,
    SystemCallError, CudaError, UnsupportedError, InternalError)}


def _from_code(code, message):
    """Called by the extension to turn a weft::Error into a Python exception."""
    return _BY_CODE.get(code, Error)(message, code)
