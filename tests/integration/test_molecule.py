"""Every molecule scenario (extensions/molecule/<role>/) on a simulated node: converge, idempotence, verify."""
import glob
import os
import sys

import pytest

from simtest import ROOT, SIMCTL, run, tool

SCENARIOS = sorted(os.path.basename(os.path.dirname(p))
                   for p in glob.glob(os.path.join(ROOT, "extensions", "molecule", "*", "molecule.yml")))
# Scenarios too long for the CI budget, run by `make molecule-all` (MOLECULE_ALL=1) and by hand
# (`molecule test -s NAME`), with what they cost and where CI covers the role instead.
BY_HAND = {
    "sglang_bench": "4 min 3 s measured on a loaded 2-core machine (a node, the CANN stand-in and the client's image "
                    "loaded, a server behind the health gate, a two-point sweep with the real client, the report); "
                    "CI runs the benchmark in test_bench_fidelity.py and test_secrets.py",
    "sglang_build": "26 min 26 s measured on a heavily loaded 2-core machine (a node, the CANN stand-in and the wheel "
                    "directory, a whole image build from the sim's source mirrors, then the second converge that finds "
                    "the image and builds nothing); CI builds the same way in test_sim_e2e.py",
    "sglang_doctor": "2 min 49 s measured on a loaded 2-core machine (a node and its inner engine, then the doctor); "
                     "CI runs the doctor on a private cluster with every planted fault in test_doctor.py",
    "sglang_service": "5 to 6.5 min measured on a loaded 2-core machine (a node, the CANN stand-in loaded, a server "
                      "behind the health gate, twice); CI serves the same way in test_faults.py and test_doctor.py",
    "sglang_router": "3 min 31 s measured on a loaded 2-core machine (a node, the simulator as its worker, the router "
                     "installed from the package index, twice); CI runs the role on a private cluster in test_router_fleet.py",
}


def test_there_are_scenarios():
    assert SCENARIOS, "no molecule scenarios found under extensions/molecule/"


def test_by_hand_names_scenarios():
    assert set(BY_HAND) <= set(SCENARIOS), sorted(set(BY_HAND) - set(SCENARIOS))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, sim_image):
    if scenario in BY_HAND and os.environ.get("MOLECULE_ALL") != "1":
        pytest.skip("by hand or make molecule-all: %s" % BY_HAND[scenario])
    # The CANN stand-in image that the node's inner Docker engine loads in prepare.
    cann_tag, cann_archive = run([sys.executable, SIMCTL, "cann"]).stdout.strip().splitlines()[-2:]
    # The image with the real benchmark client that the sglang_bench scenario's node loads.
    client_env = {}
    if scenario == "sglang_bench":
        client_tag, client_archive = run([sys.executable, SIMCTL, "bench-client"]).stdout.strip().splitlines()[-2:]
        client_env = {"NPU_SIM_BENCH_CLIENT_IMAGE": client_tag, "NPU_SIM_BENCH_CLIENT_ARCHIVE": client_archive}
    # The simulated model the sglang_service scenario mounts (as `make molecule-env` writes it).
    run([sys.executable, os.path.join(ROOT, "tests", "sim", "model", "make_sim_model.py"),
         os.path.join(ROOT, ".sim", "model", "sim-model")])
    try:
        run([tool("molecule"), "test", "-s", scenario], timeout=1800,
            env={"NPU_SIM_IMAGE": sim_image, "MOLECULE_NO_LOG": "false",
                 "NPU_SIM_CANN_IMAGE": cann_tag, "NPU_SIM_CANN_ARCHIVE": cann_archive, **client_env})
    finally:
        # The inner Docker engine's data volume is named by the scenario; leave nothing behind.
        run(["docker", "volume", "rm", "-f", "molecule-%s-docker" % scenario.replace("_", "-")],
            check=False)
