#!/bin/sh
# Runs once at image build time inside the node image (see ../image/Dockerfile).
set -eu
here=/opt/npu-sim
chmod 0755 "$here"/npu-smi "$here"/npu-sim-driver
install -d -m 0755 /usr/local/sbin /etc/npu-sim
ln -sf "$here"/npu-smi /usr/local/sbin/npu-smi
install -m 0644 "$here"/npu-sim-driver.service /etc/systemd/system/npu-sim-driver.service
systemctl enable npu-sim-driver.service ssh.service docker.service
# Units that only make sense on a real machine and fail (noisily) in a container.
systemctl mask getty@tty1.service serial-getty@console.service systemd-remount-fs.service \
  systemd-logind.service console-getty.service sys-kernel-config.mount 2>/dev/null || true
# Root logs in with the key simctl mounts at start-up; no passwords.
install -d -m 0700 /root/.ssh
printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n' \
  > /etc/ssh/sshd_config.d/npu-sim.conf
# The machine id is made on first boot of each node, not shared by every node of the image.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# The inner Docker engine keeps its data on the volume simctl mounts at /var/lib/docker.
# The sim's registry (simctl registry up) speaks plain HTTP on the sim network: the engine may pull
# from it. A fact of the test cluster only; production engines keep their own registry settings.
install -d -m 0755 /etc/docker
printf '{\n  "storage-driver": "overlay2",\n  "log-driver": "json-file",\n  "insecure-registries": ["npu-sim-registry:5000"]\n}\n' \
  > /etc/docker/daemon.json
