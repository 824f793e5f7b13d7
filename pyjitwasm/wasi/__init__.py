"""WASI preview 1 for hosts: the wasi_snapshot_preview1 imports a command module needs."""
