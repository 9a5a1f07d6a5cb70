"""Stand-in for a pipeline stage (convert, eval): appends how it was called to a file.

    record_call.py LOG_FILE [EXIT_CODE] -- ARGS...

One JSON line: {"job_id", "job_name", "argv", "time"}; then exits EXIT_CODE (default 0).
"""

import json
import os
import sys
import time

log_file, rest = sys.argv[1], sys.argv[2:]
code = int(rest.pop(0)) if rest and rest[0] != "--" else 0
args = rest[1:] if rest and rest[0] == "--" else rest
with open(log_file, "a") as f:
    f.write(json.dumps({"job_id": os.environ.get("SLURM_JOB_ID"), "job_name": os.environ.get("SLURM_JOB_NAME"),
                        "argv": args, "time": time.time()}) + "\n")
sys.exit(code)
