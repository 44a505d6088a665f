# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The one translation of the docker_npu container spec into `docker run` options.

The build container is made by community.docker.docker_container from the same spec; every other
NPU container (the servers' units, the smoke examples, the hardware checks) is a `docker run`
whose options come from here, so none of them can drop a capability, a security option, a device
or a mount that the spec carries.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class SpecError(ValueError):
    pass


REQUIRED = ("network_mode", "shm_size", "devices", "volumes")


def npu_options(spec, devices=None):
    """The NPU part of the spec: shm, privileges, capabilities, security options, devices."""
    options = ["--shm-size=%s" % spec["shm_size"]] if spec.get("shm_size") not in (None, "") else []
    if spec.get("privileged"):
        options.append("--privileged")
    options += ["--cap-add=%s" % cap for cap in spec.get("capabilities") or []]
    options += ["--security-opt=%s" % opt for opt in spec.get("security_opts") or []]
    options += ["--device=%s" % dev for dev in (spec.get("devices") or [] if devices is None else devices)]
    return options


def docker_run_options(spec, devices=None, env_file=None, volumes=None):
    """`docker run` options of an NPU container, one token each (`--opt=value`).

    devices: the container's own device list (a server on some of the chips); default the spec's.
    env_file: an environment file to pass instead of the spec's environment (a server's env file
    holds the spec's environment and its own).
    volumes: further mounts after the spec's.
    """
    if not isinstance(spec, dict):
        raise SpecError("the container spec must be a dict (the docker_npu_spec fact), got %r" % (spec,))
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise SpecError("the container spec lacks %s: run the docker_npu role first" % ", ".join(missing))
    options = ["--network=%s" % spec["network_mode"]] + npu_options(spec, devices)
    options += ["--volume=%s" % vol for vol in list(spec["volumes"]) + list(volumes or [])]
    if env_file:
        options.append("--env-file=%s" % env_file)
    else:
        options += ["--env=%s=%s" % (key, value) for key, value in sorted((spec.get("env") or {}).items())]
    return options
