"""Run the simulated driver layer's file layout once, at image build time (tests/sim only).

Loads the node's npu-sim-driver script as a module and calls its make_files() with its default
configuration (no /etc/npu-sim/node.json at build time): the CANN version and the architecture
are the ones the simulated nodes report.
"""
import importlib.machinery
import importlib.util
import sys


def main(path):
    loader = importlib.machinery.SourceFileLoader("npu_sim_driver", path)
    spec = importlib.util.spec_from_loader("npu_sim_driver", loader)
    driver = importlib.util.module_from_spec(spec)
    loader.exec_module(driver)
    driver.make_files(driver.load_config())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
