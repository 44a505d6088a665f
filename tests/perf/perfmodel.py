"""The arithmetic of `make perf` (tests/perf/perf.py), apart from Docker and Ansible so that the
unit tests can check it: byte counts from counter samples, the straight-line fit of deploy time
over the node count, its extrapolation, and the report's target lines.
"""
import math

MB = 1e6


def fit_line(points):
    """Least squares T = a + b*N over [(N, T)]: {"a", "b", "residuals": [(N, T, fitted, T - fitted)]}.

    None with fewer than two distinct N (a line through one point is not a fit).
    """
    points = [(float(n), float(t)) for n, t in points if t is not None]
    counts = [n for n, t in points]
    if len(set(counts)) < 2:
        return None
    mean_n = sum(counts) / len(points)
    mean_t = sum(t for n, t in points) / len(points)
    spread = sum((n - mean_n) ** 2 for n in counts)
    slope = sum((n - mean_n) * (t - mean_t) for n, t in points) / spread
    base = mean_t - slope * mean_n
    residuals = [(n, t, base + slope * n, t - (base + slope * n)) for n, t in points]
    return {"a": base, "b": slope, "residuals": residuals}


def predict(fit, nodes):
    return fit["a"] + fit["b"] * nodes


def counter_delta(before, after):
    """Bytes between two samples of one counter; None when either is missing or the counter went
    back (the interface was recreated between the samples, so the difference means nothing)."""
    if before is None or after is None or after < before:
        return None
    return after - before


def net_delta(before, after):
    """What moved between two samples of the network counters.

    A sample is {"controller": {"tx", "rx"}, "nodes": {node: {"rx", "tx"}}}: "controller" the host
    side of the cluster's bridge (tx: bytes this machine sent into the bridge, that is to the
    containers on it), "nodes" each node's eth0. Returns {"controller_sent", "controller_received",
    "nodes": {node: {"received", "sent"}}}, None where a counter is missing.
    """
    ctl_b, ctl_a = before.get("controller") or {}, after.get("controller") or {}
    nodes = {}
    for node in sorted(set(before.get("nodes", {})) | set(after.get("nodes", {}))):
        nb, na = before.get("nodes", {}).get(node) or {}, after.get("nodes", {}).get(node) or {}
        nodes[node] = {"received": counter_delta(nb.get("rx"), na.get("rx")),
                       "sent": counter_delta(nb.get("tx"), na.get("tx"))}
    return {"controller_sent": counter_delta(ctl_b.get("tx"), ctl_a.get("tx")),
            "controller_received": counter_delta(ctl_b.get("rx"), ctl_a.get("rx")), "nodes": nodes}


def per_added_node(points):
    """The slope of a figure over the node count, [(N, value)]: what one more node adds. None
    without two distinct N."""
    fit = fit_line(points)
    return fit["b"] if fit else None


def human_bytes(value):
    if value is None:
        return "not measured"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return "%s%.2f %s" % (sign, value / size, unit)
    return "%s%d B" % (sign, value)


def verdict(good):
    return "MET" if good else "MISSED"


def target_line(label, value, limit, shown, below=False):
    """One report line: the figure, the target and MET/MISSED, or why it was not measured.

    `shown` formats a value of the figure; the target is value <= limit, or < limit with `below`.
    """
    if value is None:
        return "%s: not measured; target %s %s" % (label, "<" if below else "<=", shown(limit))
    good = value < limit if below else value <= limit
    return "%s = %s; target %s %s: %s" % (label, shown(value), "<" if below else "<=", shown(limit), verdict(good))


def pull_bound(bytes_per_node, nodes, bandwidth):
    """Seconds the registry needs to serve `bytes_per_node` to each of `nodes` nodes at
    `bandwidth` bytes/s: a lower bound of the pull stage, whatever the pull concurrency."""
    if bytes_per_node is None or not bandwidth:
        return None
    return bytes_per_node * nodes / bandwidth


def waves(nodes, concurrency):
    """Rounds of pulls when at most `concurrency` nodes pull at once (the role's throttle)."""
    return int(math.ceil(float(nodes) / max(int(concurrency), 1)))
