# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Action npu.sglang.resolve_instances: the host's servers, from module_utils/instances.py."""
from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.npu.sglang.plugins.module_utils.instances import resolve, variable_names


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset()

    def _var(self, task_vars, name, default=None):
        if name not in task_vars:
            return default
        return self._templar.template(task_vars[name])

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname")
        spec = self._var(task_vars, "docker_npu_spec")
        if not isinstance(spec, dict):
            raise AnsibleActionFail("host %s: docker_npu_spec is not set; run the role npu.sglang.docker_npu first" % host)
        values = dict((name, self._var(task_vars, name)) for name in variable_names())
        hostvars = task_vars.get("hostvars") or {}

        def address_of(name):
            try:
                return self._templar.template(hostvars[name].get("ansible_host", name))
            except KeyError:
                return name

        instances, keys = resolve(self._var(task_vars, "sglang_service_instances", []), values, host,
                                  self._var(task_vars, "groups", {}), spec,
                                  self._var(task_vars, "sglang_service_env_defaults", {}), address_of)
        result.update(changed=False, instances=instances, keys=keys)
        return result
