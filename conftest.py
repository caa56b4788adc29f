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

# Under pytest-xdist (`make test`, `make check`: -n auto --dist loadfile) each worker is one process
# on one core: one torch thread per worker, for the worker and the notebook kernels it starts (they
# inherit the environment). Several threads per worker on a 2-core machine ran slower than one.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    os.environ["LABKIT_THREADS"] = "1"
    import torch  # the tests import it anyway; it reads OMP_NUM_THREADS only if not yet started

    torch.set_num_threads(1)
