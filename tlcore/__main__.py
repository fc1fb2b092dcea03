import gc
import sys

from tlcore.cli import main

code = main()
# Python's last garbage collection walks every object torch and its neighbours created: 1-2.5 s on
# 2 cores after the command's work is done. Frozen objects are skipped; the process memory is
# returned to the system at exit all the same.
gc.freeze()
sys.exit(code)
