# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""Run a long command on the host in the background, keep its log there, show progress."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()
MARK = "@@npu.sglang.logged_job@@"

ARGS = {
    "argv": {"type": "list", "elements": "str", "required": True},
    "log": {"type": "path", "required": True},
    "label": {"type": "str", "default": ""},
    "timeout": {"type": "int", "default": 7200},
    "interval": {"type": "int", "default": 15},
    "tail_lines": {"type": "int", "default": 40},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGS)

    def _sh(self, cmd):
        res = self._low_level_execute_command(cmd)
        return res.get("rc", 1), res.get("stdout", ""), res.get("stderr", "")

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        validation = ArgumentSpecValidator(ARGS).validate(self._task.args)
        if validation.error_messages:
            raise AnsibleActionFail("; ".join(validation.error_messages))
        args = validation.validated_parameters
        log = args["log"]
        label = args["label"] or " ".join(args["argv"])[:60]
        host = task_vars.get("inventory_hostname", "?")
        if self._task.check_mode:
            result.update(changed=True, skipped=True, msg="check mode: %s not run" % label)
            return result

        rc_file = log + ".rc"
        pid_file = log + ".pid"
        command = " ".join(shlex.quote(a) for a in args["argv"])
        # The job outlives this connection: nohup + setsid and SIGHUP ignored (a pty's hangup at
        # the end of this command must not reach it), output, pid and exit code in files that
        # stay on the host for a later look.
        start = ("mkdir -p %s && rm -f %s %s && : > %s && "
                 "( nohup setsid sh -c 'trap \"\" HUP; echo $$ > %s; %s >> %s 2>&1; echo $? > %s' "
                 "</dev/null >/dev/null 2>&1 & )"
                 % (shlex.quote(log.rsplit("/", 1)[0] or "/"), shlex.quote(rc_file),
                    shlex.quote(pid_file), shlex.quote(log), shlex.quote(pid_file),
                    command.replace("'", "'\\''"), shlex.quote(log), shlex.quote(rc_file)))
        rc, _out, err = self._sh(start)
        if rc != 0:
            raise AnsibleActionFail("could not start %s on %s: %s" % (label, host, err))

        began = time.time()
        exit_code = None
        died = False
        last = ""
        # Liveness is read before the exit code: a job that is gone and left no exit code died
        # (killed, OOM, host reboot) and waiting out the timeout would only hide that.
        probe = ("s=alive; [ -s %(pid)s ] || s=nopid; "
                 "[ -s %(pid)s ] && ! kill -0 \"$(cat %(pid)s)\" 2>/dev/null && s=dead; "
                 "cat %(rc)s 2>/dev/null; echo '%(mark)s'\"$s\"; tail -n 1 %(log)s | cut -c1-160"
                 % {"pid": shlex.quote(pid_file), "rc": shlex.quote(rc_file), "mark": MARK,
                    "log": shlex.quote(log)})
        while time.time() - began < args["timeout"]:
            time.sleep(min(args["interval"], 2) if time.time() - began < 10 else args["interval"])
            rc, out, _err = self._sh(probe)
            # The connection may hand back a terminal's \r\n.
            code, _sep, rest = out.replace("\r", "").partition(MARK)
            state, _sep, line = rest.partition("\n")
            line = line.strip()
            if code.strip().isdigit():
                exit_code = int(code.strip())
                break
            # The wrapper writes its pid as its first act; none after 30 s means it never ran.
            if state.strip() == "dead" or (state.strip() == "nopid" and time.time() - began > 30):
                died = True
                break
            if line and line != last:
                elapsed = int(time.time() - began)
                display.display("  [%s] %s %02d:%02d %s" % (host, label, elapsed // 60,
                                                            elapsed % 60, line))
                last = line
        elapsed = round(time.time() - began, 1)
        _rc, tail, _err = self._sh("tail -n %d %s" % (args["tail_lines"], shlex.quote(log)))
        tail = tail.replace("\r", "")
        result.update(log=log, elapsed_s=elapsed, tail=tail.splitlines(), rc=exit_code)
        if died:
            result.update(failed=True, msg="%s on %s stopped after %ss without an exit code "
                          "(killed?); log: %s\n%s" % (label, host, elapsed, log, tail))
        elif exit_code is None:
            result.update(failed=True, msg="%s did not finish within %ds; it goes on in the "
                          "background, log: %s" % (label, args["timeout"], log))
        elif exit_code != 0:
            result.update(failed=True, msg="%s failed (exit %d) after %ss; log: %s\n%s"
                          % (label, exit_code, elapsed, log, tail))
        else:
            result.update(changed=True, msg="%s done in %ss" % (label, elapsed))
        return result
