"""Make the checkout importable as ansible_collections.npu.sglang (through .collections)."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures")
