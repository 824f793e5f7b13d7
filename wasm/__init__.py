"""The WebAssembly binary format: types, module structure, decoder and validator.

This is the lowest layer of pyjitwasm: it imports nothing from the other layers.
"""
