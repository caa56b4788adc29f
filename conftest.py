"""Test-session settings shared by tests/ and the nbval runs of solutions/.

Set before any kernel starts, so notebook kernels inherit them: progress goes to a throw-away
directory (never the tester's own), and a failing exercise check raises (LABKIT_STRICT_CHECKS),
so a solution notebook whose check fails fails its test.
"""

import os
import tempfile

os.environ["LABKIT_HOME"] = tempfile.mkdtemp(prefix="labkit-test-home-")
os.environ["LABKIT_STRICT_CHECKS"] = "1"
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MPLBACKEND", "Agg")
