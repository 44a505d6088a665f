"""import torch_npu and compute on every chip the container sees (playbooks/hardware_check.yml).

Prints one JSON object: {"chips": [{"index", "chip", "name", "ok", "detail"}]}; exit 1 when a
chip failed. `chip` is the host's chip id (from ASCEND_RT_VISIBLE_DEVICES), `index` the device
index inside the container.
"""
import json
import os
import sys


def main():
    import torch  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    import torch_npu  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import

    visible = [c for c in os.environ.get("ASCEND_RT_VISIBLE_DEVICES", "").split(",") if c]
    count = torch.npu.device_count()
    chips = []
    for index in range(count):
        chip = visible[index] if index < len(visible) else str(index)
        try:
            torch.npu.set_device(index)
            a = torch.arange(64 * 64, dtype=torch.float32, device="npu:%d" % index).reshape(64, 64)
            b = torch.eye(64, dtype=torch.float32, device="npu:%d" % index)
            got = (a @ b + 1).sum().item()
            want = float(sum(range(64 * 64)) + 64 * 64)
            ok = abs(got - want) <= 1e-3 * want
            chips.append({"index": index, "chip": chip, "name": torch.npu.get_device_name(index),
                          "ok": ok, "detail": "matmul sum %s (expected %s)" % (got, want)})
        except Exception as err:  # pylint: disable=broad-except
            chips.append({"index": index, "chip": chip, "name": "", "ok": False, "detail": repr(err)})
    if len(visible) and count != len(visible):
        chips.append({"index": None, "chip": ",".join(visible), "name": "", "ok": False,
                      "detail": "torch sees %d devices, ASCEND_RT_VISIBLE_DEVICES lists %d"
                                % (count, len(visible))})
    print(json.dumps({"chips": chips}))
    return 0 if chips and all(c["ok"] for c in chips) else 1


if __name__ == "__main__":
    sys.exit(main())
