# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The one rule for what is a secret, and the ways the collection hides one.

* ``SECRET_NAME``: names of secrets (api_key, admin_api_key, hf_token, a registry password,
  an SCM credential), not of settings that merely mention tokens (tokenizer, max_total_tokens).
* ``mask``: a value with every secret replaced by ``REDACTED`` (validation messages show the
  variable, so the key stays and the value goes).
* ``drop``: a copy with every secret key removed (what the benchmark keeps of /server_info, which
  echoes the API key).
* ``redact_argv`` / ``redact_text``: a command line with the value of each secret flag replaced
  (the doctor's evidence).

Validation (config_rules), the benchmark (bench_command) and the doctor (doctor_rules) all read
this module, so a name hidden in one place is hidden in all.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SECRET_NAME = re.compile(r"api[_-]?key|(^|[_-])token$|secret|passw|credential", re.IGNORECASE)
# launch_server's options whose value is a secret (SGLang's --api-key; --admin-api-key in newer
# releases).
SECRET_FLAGS = ("--api-key", "--admin-api-key")
REDACTED = "<redacted>"


def is_secret_name(name):
    """True when name (a variable, a dict key, an environment variable) names a secret."""
    return bool(SECRET_NAME.search(str(name or "")))


def mask(name, value):
    """value with secrets replaced: a secret's non-empty value, and any secret key inside dicts or
    lists (instances carry api_key)."""
    if is_secret_name(name) and value is not None and str(value).strip():
        return REDACTED
    if isinstance(value, dict):
        return dict((k, mask(k, v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [mask(None, v) for v in value]
    return value


def drop(value):
    """A copy without secrets: dict keys that name a secret are left out, at any depth."""
    if isinstance(value, dict):
        return dict((key, drop(item)) for key, item in value.items() if not is_secret_name(key))
    if isinstance(value, (list, tuple)):
        return [drop(item) for item in value]
    return value


def redact_text(text):
    """text with the value of every secret flag replaced (`--api-key K` and `--api-key=K`)."""
    out = str(text)
    for flag in SECRET_FLAGS:
        out = re.sub(r"(%s)(=|\s+)(\"[^\"]*\"|'[^']*'|\S+)" % re.escape(flag), r"\1\2" + REDACTED, out)
    return out


def redact_argv(argv):
    """argv with the values of secret flags replaced, whether given as two words or with `=`."""
    out = []
    hide = False
    for arg in argv or []:
        arg = str(arg)
        if hide:
            out.append(REDACTED)
            hide = False
        elif arg in SECRET_FLAGS:
            hide = True
            out.append(arg)
        elif "=" in arg and arg.split("=", 1)[0] in SECRET_FLAGS:
            out.append(arg.split("=", 1)[0] + "=" + REDACTED)
        else:
            out.append(redact_text(arg))
    return out
