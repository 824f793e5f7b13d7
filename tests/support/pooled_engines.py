"""Pooled JIT engines for the pooling tests: one per memory style, and the allocator
inside one."""

from __future__ import annotations

from pyjitwasm import Config, Engine, PoolingAllocationConfig
from pyjitwasm.runtime.jit.pool import PooledJitAllocator


def pooled_engine(memory_style: str, total_core_instances: int) -> Engine:
    """A JIT engine with ``memory_style`` memories whose instances come from a pool of
    ``total_core_instances``."""
    config = Config(strategy="jit")
    config.memory_style = memory_style
    config.allocation_strategy = PoolingAllocationConfig(
        total_core_instances=total_core_instances)
    return Engine(config)


def allocator_of(engine: Engine) -> PooledJitAllocator:
    """The pooled allocator of ``engine`` (a :func:`pooled_engine`)."""
    allocator = engine.backend.allocator  # type: ignore[attr-defined]  # the JIT backend's
    assert isinstance(allocator, PooledJitAllocator)
    return allocator
