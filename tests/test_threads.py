"""The ``discrete-ebm`` entry point sets the OpenMP wait policy before torch loads; a library
import changes nothing (fresh interpreters: libgomp reads the variable once, at load)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from discrete_ebm.threads import set_threads

# records OMP_WAIT_POLICY at the moment torch is first imported, then runs the command
PROBE = """
import json, os, sys
seen = {}
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and "at_torch" not in seen:
            seen["at_torch"] = os.environ.get("OMP_WAIT_POLICY")
        return None
sys.meta_path.insert(0, Watch())
import discrete_ebm
seen["after_import"] = ["torch" in sys.modules, os.environ.get("OMP_WAIT_POLICY")]
from discrete_ebm.cli import main
seen["code"] = main(["sample", "--size", "3", "--sweeps", "1", "--chains", "1",
                     "--temperatures", "2", "--quiet", "--out", sys.argv[1]])
print(json.dumps(seen))
"""


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}


def test_entry_sets_the_wait_policy_before_torch_loads(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    # the library import loads no torch and sets nothing; the command sets the policy first
    assert seen["after_import"] == [False, None]
    assert seen["at_torch"] == "PASSIVE"
    assert seen["code"] == 0


def test_a_users_setting_wins_and_nothing_is_set_once_torch_is_loaded():
    code = (
        "import os\n"
        "from discrete_ebm.threads import set_openmp_environment\n"
        "os.environ['OMP_WAIT_POLICY'] = 'ACTIVE'\n"
        "print(set_openmp_environment(), os.environ['OMP_WAIT_POLICY'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["{}", "ACTIVE"]
    from discrete_ebm.threads import set_openmp_environment

    assert "torch" in sys.modules and set_openmp_environment() == {}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_set_threads_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match="threads"):
        set_threads(bad)
