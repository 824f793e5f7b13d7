"""Build hook for the native runtime helper; all other metadata lives in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["runtime/native/build_ffi.py:ffibuilder"])
