#!/bin/sh
# The sim's registry: the bcrypt password file from the user simctl names and the password file
# it mounts (never on a command line), then distribution in the foreground.
set -eu
htpasswd -B -i -c /etc/docker/registry/htpasswd "$NPU_SIM_REGISTRY_USER" \
  < /run/npu-sim-registry/password 2>/dev/null
exec docker-registry serve /etc/docker/registry/config.yml
