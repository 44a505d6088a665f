"""An HCCL all-reduce across every chip the container sees, one process per chip.

Started by `python -m torch.distributed.run --nproc_per_node N hccl_allreduce.py` from
playbooks/hardware_check.yml. Each rank contributes rank + 1; every rank must end with
N (N + 1) / 2 in every element. Rank 0 prints one JSON line; exit 1 on a wrong sum.
"""
import json
import os
import sys
import time


def main():
    import torch  # pylint: disable=import-outside-toplevel
    import torch.distributed as dist  # pylint: disable=import-outside-toplevel
    import torch_npu  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import

    local_rank = int(os.environ["LOCAL_RANK"])
    torch.npu.set_device(local_rank)
    dist.init_process_group(backend="hccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    tensor = torch.full((1 << 20,), float(rank + 1), device="npu:%d" % local_rank)
    started = time.time()
    dist.all_reduce(tensor)
    torch.npu.synchronize()
    seconds = time.time() - started
    want = world * (world + 1) / 2
    ok = bool(torch.all(tensor == want).item())
    results = [None] * world
    dist.all_gather_object(results, {"rank": rank, "ok": ok})
    if rank == 0:
        print(json.dumps({"world": world, "expected": want, "ranks": results,
                          "seconds": round(seconds, 3)}))
    dist.destroy_process_group()
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
