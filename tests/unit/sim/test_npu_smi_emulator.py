"""The sim's npu-smi prints the real tool's table byte for byte.

Each real sample of an Atlas 800I A2 / A3 table (tests/unit/fixtures/npu_smi, from the shared
reference samples) is read with the collection's own parser; the emulator, given the sample's
figures (version, chips, power, temperature, HBM, processes) as its node description, must print
exactly the sample's bytes. The layout, widths and borders are the emulator's own code, so any
drift from the real tool's format fails here.
"""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.npu.sglang.plugins.module_utils import npu_smi

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
EMULATOR = os.path.join(ROOT, "tests", "sim", "node", "npu-smi")
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures", "npu_smi")
SAMPLES = [
    "R01_npusmi_910B3_x8_25.2.0_one_proc_vllm-ascend-6512.txt",
    "R02_npusmi_910B4_x8_24.1.rc3_idle_vllm-ascend-1875.txt",
    "R03_npusmi_A3_Ascend910_x16_24.1.rc3.5_idle_vllm-ascend-960.txt",
    "R04_npusmi_A3_Ascend910_x16_25.2.3_procs_vllm-ascend-4930.txt",
]


def node_description(parsed):
    # The emulator numbers chips by their place in the table (the A3's Phy-ID).
    chips = [dict(chip, device_id=index) for index, chip in enumerate(parsed["chips"])]
    totals = set(chip["hbm_total_mb"] for chip in chips)
    assert len(totals) == 1, totals
    return {
        "chips": len(chips),
        "model": chips[0]["name"],
        "npu_smi_version": parsed["npu_smi_version"],
        "hbm_total_mb": totals.pop(),
        "health": dict((str(chip["device_id"]), chip["health"]) for chip in chips),
        "power_w": dict((str(chip["device_id"]), "%.1f" % chip["power_w"]) for chip in chips
                        if chip["power_w"] is not None),
        "aicore_pct": dict((str(chip["device_id"]), chip["aicore_pct"]) for chip in chips),
        "temp_c": dict((str(chip["device_id"]), chip["temp_c"]) for chip in chips),
        "hbm_used_mb": dict((str(chip["device_id"]), chip["hbm_used_mb"]) for chip in chips),
        "processes": [{"npu_id": proc["npu_id"], "chip_id": proc["chip_id"], "pid": proc["pid"],
                       "name": proc.get("name") or "", "memory_mb": proc["memory_mb"]}
                      for proc in parsed.get("processes", [])],
    }


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_emulator_prints_the_real_table_byte_for_byte(tmp_path, sample):
    with open(os.path.join(FIXTURES, sample), "rb") as handle:
        real = handle.read()
    parsed = npu_smi.parse_info(real.decode("utf-8"))
    config = tmp_path / "node.json"
    config.write_text(json.dumps(node_description(parsed)), encoding="utf-8")
    env = dict(os.environ, NPU_SIM_CONFIG=str(config))
    printed = subprocess.run([sys.executable, EMULATOR, "info"], env=env, stdout=subprocess.PIPE, check=True).stdout
    assert printed.decode("utf-8").splitlines() == real.decode("utf-8").splitlines()
    assert printed == real
