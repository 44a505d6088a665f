# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Action npu.sglang.resolve_instances: the host's servers, from module_utils/instances.py.

A role variable the host does not define takes its option's default in the role's argument spec
(roles/sglang_service/meta/argument_specs.yml), as the validation does: ansible-core only
documents those defaults, and a launch flag's default is written there alone (module_utils/launch.py).
"""
from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.npu.sglang.plugins.action.validate_inventory import load_role_specs
from ansible_collections.npu.sglang.plugins.module_utils.instances import resolve, variable_names


def setting_values(task_vars, template, specs=None):
    """{sglang_service_<key>: value} of every instance key: the host's variable (templated), else
    the default of its option in the role's argument spec, else None."""
    options = (load_role_specs() if specs is None else specs).get("sglang_service", {})
    values = {}
    for name in variable_names():
        if name in task_vars:
            values[name] = template(task_vars[name])
        else:
            values[name] = options.get(name, {}).get("default")
    return values


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
        values = setting_values(task_vars, self._templar.template)
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
