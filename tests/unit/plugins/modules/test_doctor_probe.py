"""npu.sglang.doctor_probe run for real on this machine (`ansible localhost -m ...`), on config
directories without a deployed server. Its checks of running servers are exercised on a
simulated node by tests/integration/test_doctor.py."""
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
VENV_PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')
PYTHON = VENV_PYTHON if os.path.exists(VENV_PYTHON) else sys.executable
ANSIBLE = os.path.join(os.path.dirname(PYTHON), 'ansible')


def run_module(tmp_path, args, check=False):
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
    command = [ANSIBLE, 'localhost', '-m', 'npu.sglang.doctor_probe', '-a', json.dumps(args)]
    if check:
        command.append('--check')
    proc = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=180, check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('no JSON from ansible (rc=%d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    return report['plays'][0]['tasks'][0]['hosts']['localhost']


def test_a_configured_server_without_a_record_is_not_deployed(tmp_path):
    for check in (False, True):
        result = run_module(tmp_path, {'config_dir': str(tmp_path), 'instances': ['main']}, check=check)
        assert result['changed'] is False and not result.get('failed'), result
        assert [(r['instance'], r['check'], r['status']) for r in result['rows']] == [('main', 'unit', 'problem')]
        assert 'not deployed' in result['rows'][0]['evidence']
        assert result['counts']['problem'] == 1
        assert any('not deployed' in line for line in result['table'])


def test_records_that_are_not_servers_are_ignored(tmp_path):
    (tmp_path / 'build.json').write_text(json.dumps({'fingerprint': 'abc'}))
    (tmp_path / 'broken.json').write_text('{not json')
    result = run_module(tmp_path, {'config_dir': str(tmp_path)})
    assert [(r['check'], r['status']) for r in result['rows']] == [('unit', 'problem')]
    assert 'no server is recorded' in result['rows'][0]['evidence']


def test_the_table_shows_only_the_statuses_asked_for(tmp_path):
    result = run_module(tmp_path, {'config_dir': str(tmp_path), 'instances': ['main'], 'show': ['ok']})
    assert len(result['rows']) == 1 and not any('| main' in line for line in result['table'])


def test_a_bad_limit_is_refused(tmp_path):
    result = run_module(tmp_path, {'config_dir': str(tmp_path), 'min_shm_size': '16 gigs'})
    assert result.get('failed') and 'min_shm_size' in result['msg']
