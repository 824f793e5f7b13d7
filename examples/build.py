"""Compile the example C programs to WASI command modules with zig's clang.

Usage: python examples/build.py [OUT_DIR]  (default build/examples)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(source: Path, out_dir: Path) -> Path:
    """Compile one C file to ``out_dir/<name>.wasm`` unless it is up to date."""
    out = out_dir / (source.stem + ".wasm")
    if out.exists() and out.stat().st_mtime >= source.stat().st_mtime:
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "ziglang", "cc", "--target=wasm32-wasi", "-O2", "-Wl,--strip-debug",
         "-o", str(out), str(source)],
        check=True,
    )
    return out


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "build" / "examples"
    for source in sorted(HERE.glob("*.c")):
        print(build(source, out_dir))


if __name__ == "__main__":
    main()
