"""Keep every chip the container sees busy with matmuls for SECONDS (default 60), so that
npu-smi can be read under load (playbooks/hardware_check.yml)."""
import sys
import threading
import time


def burn(index, until):
    import torch  # pylint: disable=import-outside-toplevel
    torch.npu.set_device(index)
    a = torch.rand(4096, 4096, device="npu:%d" % index, dtype=torch.float16)
    while time.time() < until:
        for _step in range(20):
            a = (a @ a).clamp_(-1, 1)
        torch.npu.synchronize()


def main(seconds):
    import torch  # pylint: disable=import-outside-toplevel
    import torch_npu  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    until = time.time() + seconds
    threads = [threading.Thread(target=burn, args=(i, until)) for i in range(torch.npu.device_count())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0))
