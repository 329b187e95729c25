"""pytool_check.py: checks shared by the tests of the Python tools in tools/."""
import os
import subprocess
import sys
import tempfile

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")


def check_cli_errors(script):
    """tools/SCRIPT on a missing file and on a file that is not a recording: exit 1 with a message
    naming the file, no traceback. Exits the test with the finding otherwise."""
    with tempfile.TemporaryDirectory() as d:
        junk = os.path.join(d, "junk.rollout")
        with open(junk, "wb") as f:
            f.write(b"not a dataset at all, long enough for a header" * 4)
        for path, want in ((os.path.join(d, "missing.rollout"), "cannot open"), (junk, "not an animat dataset")):
            r = subprocess.run([sys.executable, os.path.join(TOOLS, script), path], capture_output=True, text=True)
            if r.returncode != 1 or want not in r.stderr or path not in r.stderr or "Traceback" in r.stderr:
                sys.exit("%s on %s: exit %d, stderr %r" % (script, path, r.returncode, r.stderr))
