# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Action npu.sglang.bench_report: the module, told where the collection keeps the report's templates.

The module runs from a zip that carries Python only; the templates (report.md.j2, report.html.j2)
are files of the role bench_report, next to this plugin in a checkout and in an installed
collection alike. A task that names templates_dir keeps its own.
"""
from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             "roles", "bench_report", "templates")


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        if not args.get("templates_dir"):
            args["templates_dir"] = TEMPLATES_DIR
        result.update(self._execute_module(module_name="npu.sglang.bench_report", module_args=args, task_vars=task_vars))
        return result
