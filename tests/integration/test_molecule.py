"""Every molecule scenario (extensions/molecule/<role>/) on a simulated node: converge, idempotence, verify."""
import glob
import os
import sys

import pytest

from simtest import ROOT, SIMCTL, run, tool

SCENARIOS = sorted(os.path.basename(os.path.dirname(p))
                   for p in glob.glob(os.path.join(ROOT, "extensions", "molecule", "*", "molecule.yml")))


def test_there_are_scenarios():
    assert SCENARIOS, "no molecule scenarios found under extensions/molecule/"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, sim_image):
    # The CANN stand-in image that the node's inner Docker engine loads in prepare.
    cann_tag, cann_archive = run([sys.executable, SIMCTL, "cann"]).stdout.strip().splitlines()[-2:]
    # The simulated model the sglang_service scenario mounts (as `make molecule-env` writes it).
    run([sys.executable, os.path.join(ROOT, "tests", "sim", "model", "make_sim_model.py"),
         os.path.join(ROOT, ".sim", "model", "sim-model")])
    try:
        run([tool("molecule"), "test", "-s", scenario], timeout=1800,
            env={"NPU_SIM_IMAGE": sim_image, "MOLECULE_NO_LOG": "false",
                 "NPU_SIM_CANN_IMAGE": cann_tag, "NPU_SIM_CANN_ARCHIVE": cann_archive})
    finally:
        # The inner Docker engine's data volume is named by the scenario; leave nothing behind.
        run(["docker", "volume", "rm", "-f", "molecule-%s-docker" % scenario.replace("_", "-")],
            check=False)
