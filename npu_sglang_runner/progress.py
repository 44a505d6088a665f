"""One line per task and host from ansible-runner's job events."""

# Job events that end a task on a host (the loop item events repeat them per item).
TASK_END_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}
MESSAGE_LIMIT = 200


def task_status(event):
    """ok, changed, failed, ignored (a failure with ignore_errors), skipped or unreachable."""
    status = TASK_END_EVENTS.get(event.get("event"))
    data = event.get("event_data") or {}
    if status == "ok" and (data.get("res") or {}).get("changed"):
        return "changed"
    if status == "failed" and data.get("ignore_errors"):
        return "ignored"
    return status


def task_label(data):
    """The task as ansible-playbook shows it: `role : task`, or the action when it has no name."""
    task = data.get("task") or data.get("task_action") or "?"
    role = data.get("role")
    return "%s : %s" % (role, task) if role else task


def failure_message(data):
    res = data.get("res") or {}
    # A loop: the message of the first item that failed, not the summary of the loop.
    for item in res.get("results") or []:
        if isinstance(item, dict) and (item.get("failed") or item.get("unreachable")):
            res = item
            break
    message = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    if isinstance(message, (list, tuple)):
        message = " ".join(str(part) for part in message)
    message = " ".join(str(message).split())
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT - 3] + "..."
    return message


def format_duration(seconds):
    if seconds is None:
        return "-"
    return "%.1fs" % float(seconds)


def format_event(event, stage=""):
    """The progress line of a job event that ends a task on a host, else None."""
    status = task_status(event)
    if status is None:
        return None
    data = event.get("event_data") or {}
    line = "%-9s %-22s %-11s %8s  %s" % (stage, data.get("host", "?"), status,
                                         format_duration(data.get("duration")), task_label(data))
    if status in ("failed", "unreachable"):
        message = failure_message(data)
        if message:
            line += "  :: " + message
    return line.rstrip()


class ProgressPrinter:
    """ansible-runner event_handler: prints the line of each finished task, keeps every event."""

    def __init__(self, stage, write):
        self.stage = stage
        self.write = write
        self.counts = {}

    def __call__(self, event):
        line = format_event(event, self.stage)
        if line is not None:
            status = task_status(event)
            self.counts[status] = self.counts.get(status, 0) + 1
            self.write(line)
        return True
