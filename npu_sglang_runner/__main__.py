"""python -m npu_sglang_runner -i INVENTORY [options]: deploy -> benchmark -> report."""
import argparse
import os
import sys

from .pipeline import PROJECT, STAGES, default_run_id, flush_print, run_pipeline


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m npu_sglang_runner",
        description="Run deploy -> benchmark -> report through ansible-runner, one line per task "
                    "and host (stage, host, status, duration, task); exit 1 when a stage fails.")
    parser.add_argument("-i", "--inventory", required=True,
                        help="inventory directory or file (copied into each stage's private data dir)")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VAR=VALUE|@FILE",
                        help="extra variables for every stage (repeatable)")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="comma-separated subset of %s (default: all, in that order)" % ",".join(STAGES))
    parser.add_argument("--run-id", help="id of the benchmark run (default: ci-<UTC time>)")
    parser.add_argument("--reports-dir", help="where runs and reports go (default: <project>/reports)")
    parser.add_argument("--limit", help="limit the hosts, as ansible-playbook --limit")
    parser.add_argument("--project-dir", default=PROJECT, help="the checkout (default: %(default)s)")
    parser.add_argument("--data-dir",
                        help="parent of the stages' private data dirs (default: <project>/build/runner/<run id>)")
    args = parser.parse_args(argv)
    args.project_dir = os.path.abspath(args.project_dir)
    args.inventory = os.path.abspath(args.inventory)
    if not os.path.exists(args.inventory):
        parser.error("no inventory at %s" % args.inventory)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.data_dir is None:
        args.run_id = args.run_id or default_run_id()
        args.data_dir = os.path.join(args.project_dir, "build", "runner", args.run_id)
    args.data_dir = os.path.abspath(args.data_dir)
    return run_pipeline(args, write=flush_print)


if __name__ == "__main__":
    sys.exit(main())
