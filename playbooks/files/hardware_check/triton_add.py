"""The triton-ascend test: a tiny triton kernel (vector add) on the first chip, checked
against torch (playbooks/hardware_check.yml). Prints one JSON object; exit 1 on a mismatch."""
import json
import sys


def main():
    import torch  # pylint: disable=import-outside-toplevel
    import torch_npu  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    import triton  # pylint: disable=import-outside-toplevel
    import triton.language as tl  # pylint: disable=import-outside-toplevel

    @triton.jit
    def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):  # pylint: disable=invalid-name
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask)
                 + tl.load(y_ptr + offsets, mask=mask), mask=mask)

    n = 4096
    x = torch.rand(n, device="npu")
    y = torch.rand(n, device="npu")
    out = torch.empty_like(x)
    add_kernel[(triton.cdiv(n, 1024),)](x, y, out, n, BLOCK=1024)
    diff = (out - (x + y)).abs().max().item()
    print(json.dumps({"triton": triton.__version__, "n": n, "max_abs_diff": diff}))
    return 0 if diff == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
