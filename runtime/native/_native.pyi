# The cffi extension built from native.c by build_ffi.py (a binary module: this stub gives
# the type checker its two names; cffi's objects are untyped).
from typing import Any

ffi: Any
lib: Any
