"""One module per ``pyjitwasm`` subcommand, each exposing ``register(subparsers)``."""
