"""Run the npu.sglang playbooks deploy -> benchmark -> report through ansible-runner, the way AWX
runs a job: one private data directory per stage (env/extravars, env/envvars, inventory/), the
checkout as the project. For CI pipelines: `python -m npu_sglang_runner -i inventories/mycluster`.
Not part of the collection (galaxy.yml build_ignore): it drives a checkout.
"""
