"""Run one of the collection's modules for real on this machine: `ansible localhost -m ...`."""
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
VENV_PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')
PYTHON = VENV_PYTHON if os.path.exists(VENV_PYTHON) else sys.executable
ANSIBLE = os.path.join(os.path.dirname(PYTHON), 'ansible')


def ansible_env(tmp_path, extra=None):
    """The environment of an ansible command run by the tests: the project's ansible.cfg, the venv's
    Python on the controller, the json callback, temporary directories under tmp_path."""
    env = dict(os.environ)
    env.update({
        'ANSIBLE_CONFIG': os.path.join(ROOT, 'ansible.cfg'),
        'ANSIBLE_PYTHON_INTERPRETER': PYTHON,
        'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
        'ANSIBLE_STDOUT_CALLBACK': 'json',
        'ANSIBLE_CACHE_PLUGIN': 'memory',
        'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-local'),
        'ANSIBLE_REMOTE_TEMP': str(tmp_path / 'ansible-remote'),
        'ANSIBLE_NOCOLOR': '1',
    })
    env.update(extra or {})
    return env


def run_module(tmp_path, module, args, check=False):
    """The module's result for localhost (a dict), run with the project's ansible.cfg."""
    command = [ANSIBLE, 'localhost', '-m', module, '-a', json.dumps(args)]
    if check:
        command.append('--check')
    proc = subprocess.run(command, cwd=ROOT, env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=300, check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('no JSON from ansible (rc=%d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    return report['plays'][0]['tasks'][0]['hosts']['localhost']
