"""Running a standalone script (a model card's) where the project and its heavy dependencies cannot be
imported, as on a machine that has only what the script says it needs."""

import subprocess
import sys
from pathlib import Path

BLOCKED = ("torch", "torchvision", "tlcore", "sklearn", "scipy", "pandas")
# `python -I -c ISOLATED blocked script args`: the script runs as __main__ with those packages blocked.
ISOLATED = """
import runpy, sys

BLOCKED = set(sys.argv[1].split(","))

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not available here")

sys.meta_path.insert(0, Block())
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def isolated(script: Path, *args, cwd: Path, blocked: tuple[str, ...] = BLOCKED) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-c", ISOLATED, ",".join(blocked), str(script), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)
