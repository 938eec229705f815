"""Prints what CMake needs to build weft._c10d against the torch of this
interpreter, one `name=value` a line (python/c10d/CMakeLists.txt reads it).

Exits non-zero with the reason on stderr when torch is not importable, so
that the configure step can skip the extension and say why.
"""
import sys
import sysconfig

try:
    import torch
    import torch.distributed as dist
    from torch.utils import cpp_extension
except Exception as e:  # noqa: BLE001 (any import failure means: no torch here)
    sys.exit(f"torch is not importable ({type(e).__name__}: {e})")

if not dist.is_available():
    sys.exit(f"torch {torch.__version__} was built without torch.distributed")

print(f"version={torch.__version__.split('+')[0]}")
print(f"cxx11_abi={int(torch._C._GLIBCXX_USE_CXX11_ABI)}")
print(f"include_dirs={'|'.join(cpp_extension.include_paths())}")
print(f"lib_dir={cpp_extension.library_paths()[0]}")
print(f"python_include={sysconfig.get_paths()['include']}")
print(f"ext_suffix={sysconfig.get_config_var('EXT_SUFFIX')}")
