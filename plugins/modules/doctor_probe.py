#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: doctor_probe
short_description: Inspect the SGLang servers of a node and report every known cause of trouble
version_added: "0.1.0"
description:
  - Reads, for each server recorded in O(config_dir) (C(<name>.json), written by the role
    C(npu.sglang.sglang_service)) and each name in O(instances), the evidence of the running
    deployment, then applies the rules of C(module_utils/doctor_rules.py) (the recipe's
    troubleshooting table) and returns one finding per check with its status, evidence and fix.
  - "Evidence: C(systemctl show) of the unit; C(docker inspect) of the container (command,
    environment, shm size); C(/health) and C(/server_info) (or C(/get_server_info)) of the server;
    a probe run with the container's Python (C(docker exec)) that reads package metadata
    (C(importlib.metadata)), module locations (C(importlib.util.find_spec)), the two source files
    the recipe fixes, C(/dev/shm) and the profiler directory; the processes listening on the
    server's ports (C(/proc/net/tcp), C(/proc/net/tcp6))."
  - When the container is not running, the image is probed in a throw-away container without
    network (C(docker run --rm --network none)), and the command and environment come from the
    recorded settings and the unit's command file.
  - Reads only. The API key (read from C(<name>.key) to authenticate C(/server_info)) is never
    returned; C(/server_info) echoes it, so only the keys the checks need are kept.
author:
  - npu.sglang maintainers (@npu-sglang)
options:
  config_dir:
    description: Directory of the servers' files (C(<name>.json), C(<name>.run), C(<name>.key)).
    type: path
    default: /etc/npu-sglang
  instances:
    description:
      - Names of the servers the inventory configures on this host. A name without a record is
        reported as not deployed; a record whose name is not listed is reported as a warning.
      - Empty checks every recorded server.
    type: list
    elements: str
    default: []
  docker_bin:
    description: The docker CLI.
    type: str
    default: docker
  python:
    description:
      - Python interpreter inside the image that runs the probe.
      - Empty takes the server's own interpreter (the first word of its recorded launcher when
        that is a Python), else C(python3).
    type: str
    default: ""
  vllm_ascend_src:
    description: Directories inside the image where the vllm-ascend source (its C(setup.py)) may be.
    type: list
    elements: str
    default: [/opt/sglang-src/vllm-ascend]
  min_mem_fraction:
    description: Smallest C(--mem-fraction-static) that is not a problem.
    type: float
    default: 0.8
  min_shm_size:
    description: Smallest C(/dev/shm) of a server's container that is not a problem (Docker size syntax).
    type: str
    default: 16g
  min_hccl_connect_timeout:
    description: Smallest C(HCCL_CONNECT_TIMEOUT) (seconds) of a multi-node server that is not a problem.
    type: int
    default: 600
  expected_versions:
    description: Versions the stack profile wants (keys C(torch), C(torch_npu), C(python)); a difference is a warning.
    type: dict
    default: {}
  http_timeout:
    description: Seconds to wait for each HTTP request to a server.
    type: int
    default: 10
  probe_timeout:
    description: Seconds to wait for the probe inside the container or image.
    type: int
    default: 120
  show:
    description: Statuses whose rows RV(table) shows; RV(rows) and RV(counts) always have every finding.
    type: list
    elements: str
    choices: [problem, warning, not installed, skipped, ok]
    default: [problem, warning, not installed, skipped, ok]
attributes:
  check_mode:
    description: Reads only, so it runs in check mode as without it.
    support: full
  diff_mode:
    description: Returns no diff; the module changes nothing.
    support: none
  platform:
    description: Needs systemd, the docker CLI and /proc (Linux).
    support: full
    platforms: posix
notes:
  - The module never reports a change.
  - Run it as root; the processes behind a port and the key file are readable by root only.
'''

EXAMPLES = r'''
- name: Inspect the servers of this host
  npu.sglang.doctor_probe:
    instances: [main]
    min_shm_size: 16g
  register: doctor

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ doctor.table }}"
'''

RETURN = r'''
servers:
  description: One entry per server, with its findings and the evidence they come from.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Instance name.
      type: str
      sample: main
    findings:
      description: One per check, in table order, each with C(check), C(title), C(status), C(evidence), C(fix).
      type: list
      elements: dict
      sample: [{"check": "p2p", "title": "P2P between the chips (tp > 1)", "status": "problem",
                "evidence": "ASCEND_P2P_ENABLE=0 with tp 2", "fix": "ASCEND_P2P_ENABLE=1 ..."}]
    evidence:
      description: What was read (secrets removed).
      type: dict
rows:
  description: Every finding of the host as a flat row (C(instance), C(check), C(status), C(evidence), C(fix)).
  returned: always
  type: list
  elements: dict
table:
  description: The rows whose status is in O(show) as a text table, one string per line.
  returned: always
  type: list
  elements: str
counts:
  description: Number of findings per status (C(problem), C(warning), C(not installed), C(skipped), C(ok)).
  returned: always
  type: dict
  sample: {"problem": 2, "warning": 0, "not installed": 4, "skipped": 0, "ok": 11}
'''

import glob
import json
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url
from ansible_collections.npu.sglang.plugins.module_utils.config_rules import size_bytes
from ansible_collections.npu.sglang.plugins.module_utils import doctor_rules as rules
from ansible_collections.npu.sglang.plugins.module_utils.redaction import redact_argv


class Probe(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.docker = module.params['docker_bin']
        self.systemctl = module.get_bin_path('systemctl')

    # ------------------------------------------------------------------ sources

    def records(self):
        found = {}
        for path in sorted(glob.glob(os.path.join(self.params['config_dir'], '*.json'))):
            try:
                with open(path) as handle:
                    data = json.load(handle)
            except (IOError, OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get('name') and data.get('container') and data.get('unit'):
                found[data['name']] = data
        return found

    def read_text(self, path):
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def unit_state(self, unit):
        if not self.systemctl:
            return None, 'no systemctl on this host'
        rc, out, err = self.module.run_command([self.systemctl, 'show', unit, '--property',
                                                'LoadState,ActiveState,SubState,NRestarts,Result'])
        if rc != 0:
            return None, (err or out).strip()
        return dict(line.split('=', 1) for line in out.splitlines() if '=' in line), None

    def inspect(self, container):
        rc, out, err = self.module.run_command([self.docker, 'inspect', '--type', 'container', container])
        if rc != 0:
            if 'no such' in (err + out).lower():
                return None, None
            return None, (err or out).strip()
        try:
            return json.loads(out)[0], None
        except (ValueError, IndexError) as exc:
            return None, 'docker inspect printed no JSON: %s' % exc

    def run_probe(self, container, image, running, py):
        arg = json.dumps({'vllm_ascend_src': self.params['vllm_ascend_src']})
        if running:
            cmd = [self.docker, 'exec', container, py, '-c', rules.PROBE_SCRIPT, arg]
        else:
            cmd = [self.docker, 'run', '--rm', '--network', 'none', '--log-driver', 'none',
                   '--entrypoint', py, image, '-c', rules.PROBE_SCRIPT, arg]
        rc, out, err = self.module.run_command(['timeout', str(self.params['probe_timeout'])] + cmd)
        if rc != 0:
            tail = (err or out).strip().splitlines()[-3:]
            return None, 'probe exited %d: %s' % (rc, ' / '.join(tail) or 'no output')
        try:
            return json.loads(out.strip().splitlines()[-1]), None
        except (ValueError, IndexError):
            return None, 'probe printed no JSON: %s' % out.strip()[-200:]

    def http(self, base, path, headers):
        """(HTTP status or None, body or None, error text or None) of a GET."""
        resp, info = fetch_url(self.module, base + path, headers=headers, method='GET',
                               timeout=self.params['http_timeout'], use_proxy=False)
        status = info.get('status', -1)
        if status is None or status < 0:
            return None, None, info.get('msg') or 'no answer'
        if status != 200 or resp is None:
            return status, None, None
        return status, resp.read(), None

    def server(self, ev, record, key):
        host = str(ev['launch'].get('host') or record.get('host') or '127.0.0.1')
        if host in ('0.0.0.0', '::', ''):
            host = '127.0.0.1'
        if ':' in host and not host.startswith('['):
            host = '[%s]' % host
        base = 'http://%s:%s' % (host, ev['port'])
        code, _body, error = self.http(base, '/health', {})
        ev['health'], ev['health_error'] = code, error
        if (ev['launch'].get('node_rank') or record.get('node_rank') or 0) > 0:
            ev['server_info'] = None
            ev['server_info_error'] = 'worker rank: no /server_info'
            return
        headers = {'Authorization': 'Bearer %s' % key} if key else {}
        info, error = None, None
        for path in ('/server_info', '/get_server_info'):
            code, body, error = self.http(base, path, headers)
            if code == 200 and body is not None:
                try:
                    info = json.loads(body)
                except ValueError:
                    error = '%s returned no JSON' % path
                break
            if code != 404:
                error = error or '%s: HTTP %s' % (path, code)
                break
            error = '%s: HTTP 404' % path
        ev['server_info'] = rules.safe_server_info(info)
        ev['server_info_error'] = None if info is not None else error

    def listeners(self, ports, container_pid):
        wanted = set(ports)
        sockets = {}
        for name in ('/proc/net/tcp', '/proc/net/tcp6'):
            for port, inode in rules.parse_proc_net_listeners(self.read_text(name)):
                if port in wanted:
                    sockets[inode] = port
        out = dict((str(p), []) for p in sorted(wanted))
        if not sockets:
            return out
        ours_ns = self.pid_ns(container_pid) if container_pid else None
        seen = set()
        for fd_dir in glob.glob('/proc/[0-9]*/fd'):
            pid = int(fd_dir.split('/')[2])
            try:
                links = [os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir)]
            except OSError:
                continue
            for link in links:
                match = re.match(r'^socket:\[(\d+)\]$', link)
                if not match or int(match.group(1)) not in sockets or (pid, match.group(1)) in seen:
                    continue
                seen.add((pid, match.group(1)))
                port = sockets[int(match.group(1))]
                comm = (self.read_text('/proc/%d/comm' % pid) or '?').strip()
                out[str(port)].append({'pid': pid, 'comm': comm,
                                       'ours': bool(ours_ns) and self.pid_ns(pid) == ours_ns})
        return out

    @staticmethod
    def pid_ns(pid):
        try:
            return os.readlink('/proc/%d/ns/pid' % pid)
        except OSError:
            return None

    # ------------------------------------------------------------------ one server

    def gather(self, name, record, expected):
        cfg = self.params['config_dir']
        unit = (record or {}).get('unit') or 'npu-sglang@%s.service' % name
        kept = ('tp', 'nnodes', 'node_rank', 'port', 'host', 'devices', 'auth', 'profiler_dir')
        ev = {'name': name, 'unit': unit, 'expected': expected,
              'record': dict((k, record.get(k)) for k in kept) if record else None,
              'container': (record or {}).get('container') or 'npu-sglang-%s' % name,
              'image': (record or {}).get('image'),
              'expected_versions': self.params['expected_versions'],
              'vllm_ascend_src': self.params['vllm_ascend_src']}
        ev['unit_state'], ev['unit_error'] = self.unit_state(unit)
        if not record:
            return ev
        key = None
        if record.get('auth'):
            key = (self.read_text(os.path.join(cfg, '%s.key' % name)) or '').strip() or None
            if key:
                self.module.no_log_values.add(key)
        run_text = self.read_text(os.path.join(cfg, '%s.run' % name))

        info, error = self.inspect(ev['container'])
        running = bool(info and (info.get('State') or {}).get('Running'))
        ev['container_state'] = None if info is None else {
            'status': (info.get('State') or {}).get('Status'),
            'restart_count': info.get('RestartCount'),
            'started_at': (info.get('State') or {}).get('StartedAt')}
        ev['inspect_error'] = error
        if running:
            command = [info.get('Path') or ''] + list(info.get('Args') or [])
            env = rules.env_list_to_dict((info.get('Config') or {}).get('Env'))
            ev['source'] = 'container'
            ev['image'] = (info.get('Config') or {}).get('Image') or ev['image']
            ev['command'] = redact_argv(command)
            ev['command_env_wrapper'] = rules.uses_env_wrapper(command)
        else:
            command = list(record.get('argv') or [])
            env = dict(record.get('env') or {})
            ev['source'] = 'record'
            ev['command'] = redact_argv(command)
            ev['command_env_wrapper'] = rules.uses_env_wrapper(run_text) if run_text is not None else None
        ev['env'] = rules.pick_env(env)
        ev['launch'] = rules.parse_launch(command)
        ev['port'] = ev['launch'].get('port') or record.get('port')

        self.server(ev, record, key)

        launcher = str((record.get('argv') or [''])[0])
        ev['python'] = self.params['python'] or (
            launcher if re.match(r'^python[0-9.]*$', launcher.rsplit('/', 1)[-1]) else 'python3')
        ev['probe'], ev['probe_error'] = (None, None)
        if ev['image'] or running:
            ev['probe'], ev['probe_error'] = self.run_probe(ev['container'], ev['image'], running, ev['python'])
        else:
            ev['probe_error'] = 'no image recorded'
        ev['probe_source'] = 'container' if running else 'image'

        ev['shm_bytes'], ev['shm_source'], ev['shm_error'] = None, None, None
        host_config = (info or {}).get('HostConfig') or {}
        if running and ev['probe'] and ev['probe'].get('shm_bytes'):
            ev['shm_bytes'], ev['shm_source'] = ev['probe']['shm_bytes'], 'inside the container'
        elif running and host_config.get('ShmSize') and host_config.get('IpcMode') in ('', 'private', 'shareable', None):
            ev['shm_bytes'], ev['shm_source'] = int(host_config['ShmSize']), 'docker inspect ShmSize'
        elif run_text is not None:
            match = re.search(r"--shm-size[= ]+'?([0-9]+[bkmgtpBKMGTP]?)", run_text)
            if match:
                ev['shm_bytes'], ev['shm_source'] = size_bytes(match.group(1)), "the unit's --shm-size"
        if ev['shm_bytes'] is None:
            ev['shm_error'] = 'the container is not running and its --shm-size is not known'

        eff = rules.effective(ev)
        ports = [p for p in [ev['port']] if p]
        if eff['nnodes'] > 1 and eff['node_rank'] == 0 and rules.dist_port(eff['dist_init_addr']):
            ports.append(rules.dist_port(eff['dist_init_addr']))
        container_pid = (info or {}).get('State', {}).get('Pid') if running else None
        try:
            ev['listeners'], ev['listeners_error'] = self.listeners(ports, container_pid), None
        except (IOError, OSError) as exc:
            ev['listeners'], ev['listeners_error'] = None, str(exc)
        return ev


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_dir=dict(type='path', default='/etc/npu-sglang'),
            instances=dict(type='list', elements='str', default=[]),
            docker_bin=dict(type='str', default='docker'),
            python=dict(type='str', default=''),
            vllm_ascend_src=dict(type='list', elements='str', default=['/opt/sglang-src/vllm-ascend']),
            min_mem_fraction=dict(type='float', default=0.8),
            min_shm_size=dict(type='str', default='16g'),
            min_hccl_connect_timeout=dict(type='int', default=600),
            expected_versions=dict(type='dict', default={}),
            http_timeout=dict(type='int', default=10),
            probe_timeout=dict(type='int', default=120),
            show=dict(type='list', elements='str', choices=list(rules.STATUSES), default=list(rules.STATUSES)),
        ),
        supports_check_mode=True,
    )
    try:
        min_shm = size_bytes(module.params['min_shm_size'])
    except ValueError as exc:
        module.fail_json(msg='min_shm_size: %s' % exc)
    limits = {'min_mem_fraction': module.params['min_mem_fraction'], 'min_shm_bytes': min_shm,
              'min_hccl_connect_timeout': module.params['min_hccl_connect_timeout']}

    probe = Probe(module)
    records = probe.records()
    expected = list(module.params['instances'])
    names = expected + sorted(n for n in records if n not in expected)
    servers, rows = [], []
    for name in names:
        ev = probe.gather(name, records.get(name), expected=(not expected) or name in expected)
        findings = rules.evaluate(ev, limits)
        servers.append({'name': name, 'findings': findings, 'evidence': ev})
        for item in findings:
            rows.append({'instance': name, 'check': item['check'], 'status': item['status'],
                         'evidence': item['evidence'], 'fix': item['fix']})
    if not names:
        rows.append({'instance': '-', 'check': 'unit', 'status': rules.PROBLEM,
                     'evidence': 'no server is recorded in %s and none is configured' % module.params['config_dir'],
                     'fix': 'run playbooks/serve.yml'})
    module.exit_json(changed=False, servers=servers, rows=rows, table=rules.render_table([r for r in rows if r['status'] in module.params['show']]),
                     counts=rules.summarize(rows))


if __name__ == '__main__':
    main()
