# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache-2.0 (see the collection's LICENSE)
"""The SGLang router in front of the fleet: its workers and its command line.

The workers are read from the instance resolver's output (fact sglang_service_resolved of every
host of the fleet, module_utils/instances.py), never computed a second time: a server listens on
its `host` (an address other nodes reach, or every address) and `port`; the ranks > 0 of a
multi-node server have no HTTP API, their head is the worker.

The flags are those of sglang-router 0.3.2 (sglang_router/router_args.py of its wheel): one
`--api-key` is sent to every worker and is asked of every client, so the servers behind one
router share one key (or none).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Knobs that only cache_aware reads (router_args.py: the cache-aware tree and its balancing).
CACHE_AWARE_FLAGS = (
    ("cache_threshold", "--cache-threshold"),
    ("balance_abs_threshold", "--balance-abs-threshold"),
    ("balance_rel_threshold", "--balance-rel-threshold"),
    ("eviction_interval_secs", "--eviction-interval-secs"),
    ("max_tree_size", "--max-tree-size"),
)
HEALTH_FLAGS = (
    ("health_check_interval_secs", "--health-check-interval-secs"),
    ("health_failure_threshold", "--health-failure-threshold"),
    ("health_success_threshold", "--health-success-threshold"),
    ("health_check_timeout_secs", "--health-check-timeout-secs"),
)
ANY_ADDRESS = ("", "0.0.0.0", "::", None)


def url_host(address):
    """An address as the host part of a URL (IPv6 in brackets)."""
    address = str(address)
    return "[%s]" % address if ":" in address and not address.startswith("[") else address


def local_url(address, port):
    """http://<address>:<port>, the URL a process on the listener's own host reaches it at: a
    listener on every address (ANY_ADDRESS) by 127.0.0.1 (Linux binds :: dual-stack unless
    net.ipv6.bindv6only is set, so it takes IPv4 too), an IPv6 address in brackets."""
    return "http://%s:%s" % (url_host("127.0.0.1" if address in ANY_ADDRESS else address), port)


def workers(fleet):
    """(workers, key) from [(host, address, instances, keys)] of every host of the fleet.

    instances/keys: the resolver's servers of the host and their API keys by name; address: where
    other nodes reach the host (its ansible_host). A worker is {host, name, url, auth}. Raises
    ValueError, naming the host and the fix, when a host has no resolved servers or the servers
    do not share one API key.
    """
    found, by_key = [], {}
    for host, address, instances, keys in fleet:
        if instances is None:
            raise ValueError("host %s: its servers are not resolved (no fact sglang_service_resolved). Fix: run the "
                             "router from playbooks/router.yml or site.yml, which resolve the fleet first, without a --limit that "
                             "leaves the host out" % host)
        for inst in instances:
            if int(inst.get("node_rank") or 0) != 0:
                continue
            listen = inst.get("host")
            reach = address if listen in ANY_ADDRESS else listen
            url = "http://%s:%d" % (url_host(reach), int(inst["port"]))
            key = str((keys or {}).get(inst.get("name")) or "")
            by_key.setdefault(key, []).append("%s/%s" % (host, inst.get("name")))
            found.append({"host": host, "name": inst.get("name"), "url": url, "auth": bool(key)})
    if len(by_key) > 1:
        groups = sorted(", ".join(names) for names in by_key.values())
        raise ValueError("the servers behind the router do not share one API key (%s): sglang-router sends one "
                         "--api-key to every worker. Fix: give every server the same sglang_service_api_key, or "
                         "none" % " | ".join(groups))
    urls = [w["url"] for w in found]
    twice = sorted(set(u for u in urls if urls.count(u) > 1))
    if twice:
        raise ValueError("two servers of the fleet answer at %s. Fix: give each server of a host its own port"
                         % ", ".join(twice))
    return found, (list(by_key)[0] if by_key else "")


def argv(settings, urls):
    """The router's command line after the launcher (without the API key), from the role's
    settings (sglang_router_* without the prefix) and the workers' URLs."""
    args = ["--host", str(settings["host"]), "--port", str(int(settings["port"])), "--worker-urls"] + list(urls)
    args += ["--policy", str(settings["policy"])]
    if settings["policy"] == "cache_aware":
        for key, flag in CACHE_AWARE_FLAGS:
            args += [flag, str(settings[key])]
    for key, flag in HEALTH_FLAGS:
        args += [flag, str(int(settings[key]))]
    args += ["--prometheus-host", str(settings["prometheus_host"]),
             "--prometheus-port", str(int(settings["prometheus_port"]))]
    if settings.get("log_level"):
        args += ["--log-level", str(settings["log_level"])]
    return args + [str(a) for a in settings.get("extra_args") or []]
