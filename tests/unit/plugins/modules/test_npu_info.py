"""npu.sglang.npu_info run for real: `ansible localhost -m npu.sglang.npu_info` from the repo root."""
import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.npu.sglang.plugins.module_utils.npu_smi import parse_info

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'npu_smi')
EMULATOR = os.path.join(ROOT, 'tests', 'sim', 'node', 'npu-smi')
VENV_PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')
PYTHON = VENV_PYTHON if os.path.exists(VENV_PYTHON) else sys.executable
ANSIBLE = os.path.join(os.path.dirname(PYTHON), 'ansible')

INFO_FIXTURES = sorted(name for name in os.listdir(FIXTURES) if name.startswith(('A', 'R')) and name.endswith('.txt'))


def script(tmp_path, name, body):
    path = tmp_path / name
    path.write_text('#!/bin/sh\n' + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def cat_script(tmp_path, fixture, name='npu-smi'):
    return script(tmp_path, name, 'exec cat %s\n' % os.path.join(FIXTURES, fixture))


def start_module(tmp_path, args, extra_env=None, check=False):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_PYTHON_INTERPRETER': PYTHON,
        'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
        'ANSIBLE_STDOUT_CALLBACK': 'json',
        'ANSIBLE_CACHE_PLUGIN': 'memory',         # keep facts out of ./.cache
        'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-local'),
        'ANSIBLE_REMOTE_TEMP': str(tmp_path / 'ansible-remote'),
        'ANSIBLE_NOCOLOR': '1',
    })
    env.update(extra_env or {})
    command = [ANSIBLE, 'localhost', '-m', 'npu.sglang.npu_info', '-a', args]
    if check:
        command.append('--check')
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_module(popen):
    stdout, stderr = popen.communicate(timeout=180)
    proc = subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('no JSON from ansible (rc=%d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    result = report['plays'][0]['tasks'][0]['hosts']['localhost']
    return proc, result


def run_module(tmp_path, args, extra_env=None, check=False):
    return finish_module(start_module(tmp_path, args, extra_env, check))


def assert_no_traceback(proc):
    assert 'Traceback (most recent call last)' not in proc.stdout + proc.stderr
    assert 'MODULE FAILURE' not in proc.stdout + proc.stderr


def read(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


@pytest.fixture(scope='module')
def fixture_runs(tmp_path_factory):
    """The module run once per fixture, all at the same time (each run takes seconds)."""
    started = {}
    for fixture in INFO_FIXTURES:
        tmp_path = tmp_path_factory.mktemp(fixture[:3])
        npu_smi = cat_script(tmp_path, fixture)
        started[fixture] = (npu_smi, start_module(tmp_path, 'npu_smi_path=%s gather=chips' % npu_smi))
    return dict((fixture, (npu_smi,) + finish_module(popen)) for fixture, (npu_smi, popen) in started.items())


@pytest.mark.parametrize('fixture', INFO_FIXTURES)
def test_facts_from_each_fixture(fixture_runs, fixture):
    npu_smi, proc, result = fixture_runs[fixture]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    assert result['changed'] is False
    assert 'failed' not in result or result['failed'] is False
    facts = result['ansible_facts']['npu']
    expected = parse_info(read(fixture))
    expected['npu_smi_path'] = npu_smi
    assert facts == expected
    assert 'software' not in facts and 'board' not in facts and 'python' not in facts


def test_concrete_values_of_the_910b3_host(tmp_path):
    npu_smi = cat_script(tmp_path, 'R01_npusmi_910B3_x8_25.2.0_one_proc_vllm-ascend-6512.txt')
    proc, result = run_module(tmp_path, 'npu_smi_path=%s' % npu_smi)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = result['ansible_facts']['npu']
    assert facts['npu_smi_version'] == '25.2.0'
    assert facts['count'] == 8
    assert [chip['bus_id'] for chip in facts['chips']] == [
        '0000:C1:00.0', '0000:C2:00.0', '0000:81:00.0', '0000:82:00.0',
        '0000:01:00.0', '0000:02:00.0', '0000:41:00.0', '0000:42:00.0']
    assert facts['chips'][2]['hbm_used_mb'] == 41052
    assert facts['chips'][2]['hbm_total_mb'] == 65536
    assert facts['processes'] == [{'npu_id': 2, 'chip_id': 0, 'pid': 1333928, 'name': None, 'memory_mb': 37709}]
    # default gather also reads the software versions; nothing is installed here -> all None
    assert set(facts['software']) == {'driver_version', 'firmware_version', 'cann_version', 'cann_arch', 'ascend_install'}


def test_concrete_values_of_the_300i_duo(tmp_path):
    npu_smi = cat_script(tmp_path, 'R05_npusmi_310P3_300IDuo_x8_25.3.rc1_procs_vllm-ascend-6063.txt')
    proc, result = run_module(tmp_path, 'npu_smi_path=%s gather=chips' % npu_smi)
    facts = result['ansible_facts']['npu']
    assert facts['count'] == 8
    assert [chip['npu_id'] for chip in facts['chips']] == [0, 0, 96, 96, 32768, 32768, 32896, 32896]
    assert [chip['memory_total_mb'] for chip in facts['chips']] == [44278, 43693] * 4
    assert all(chip['hbm_total_mb'] is None for chip in facts['chips'])
    assert len(facts['processes']) == 3


def test_check_mode_gives_the_same_facts(tmp_path):
    npu_smi = cat_script(tmp_path, 'A08_npusmi_910ProB_x1_23.0.rc1_proc_narrow.txt')
    proc, result = run_module(tmp_path, 'npu_smi_path=%s gather=chips' % npu_smi, check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result['changed'] is False
    assert result['ansible_facts']['npu']['chips'][0]['hbm_used_mb'] == 30711


def test_npu_smi_found_in_path(tmp_path):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    npu_smi = cat_script(bindir, 'R02_npusmi_910B4_x8_24.1.rc3_idle_vllm-ascend-1875.txt')
    proc, result = run_module(tmp_path, 'gather=chips', extra_env={'PATH': '%s:%s' % (bindir, os.environ['PATH'])})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = result['ansible_facts']['npu']
    assert facts['npu_smi_path'] == npu_smi
    assert facts['count'] == 8 and facts['chips'][0]['name'] == '910B4'


def emulator_script(tmp_path, config):
    path = tmp_path / 'node.json'
    path.write_text(json.dumps(config))
    return script(tmp_path, 'npu-smi', 'NPU_SIM_CONFIG=%s exec %s %s "$@"\n' % (path, sys.executable, EMULATOR))


def test_board_and_software_against_the_simulator(tmp_path):
    npu_smi = emulator_script(tmp_path, {'chips': 8, 'health': {'4': 'Warning'}, 'driver_version': '24.1.rc2.2'})
    root = tmp_path / 'Ascend'
    (root / 'driver').mkdir(parents=True)
    (root / 'driver' / 'version.info').write_text('Version=24.1.rc2.2\npackage_version=24.1.rc2.2\n')
    (root / 'firmware').mkdir()
    (root / 'firmware' / 'version.info').write_text('Version=7.5.0.3.220\n')
    toolkit = root / 'ascend-toolkit' / '8.2.RC1' / 'aarch64-linux'
    toolkit.mkdir(parents=True)
    with open(os.path.join(FIXTURES, 'K01_ascend_toolkit_install_8.2.RC1_vllm-ascend-6063.info')) as handle:
        (toolkit / 'ascend_toolkit_install.info').write_text(handle.read())
    os.symlink('8.2.RC1', str(root / 'ascend-toolkit' / 'latest'))
    install = tmp_path / 'ascend_install.info'
    install.write_text('UserName=HwHiAiUser\nUserGroup=HwHiAiUser\nDriver_Install_Path_Param=/usr/local/Ascend\n')
    args = 'npu_smi_path=%s ascend_root=%s ascend_install_info=%s gather=chips,board,software' % (npu_smi, root, install)
    proc, result = run_module(tmp_path, args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    facts = result['ansible_facts']['npu']
    assert facts['count'] == 8
    assert [chip['health'] for chip in facts['chips']] == ['OK'] * 4 + ['Warning'] + ['OK'] * 3
    assert facts['board']['total_count'] == 8
    assert [npu['npu_id'] for npu in facts['board']['npus']] == list(range(8))
    assert facts['board']['npus'][3]['pcie_bus_info'] == '0000:82:00.0'
    assert facts['board']['npus'][3]['software_version'] == '24.1.rc2.2'
    assert facts['board']['npus'][3]['chip_count'] == 1
    assert facts['board']['npus'][3]['serial_number']
    assert facts['software'] == {
        'driver_version': '24.1.rc2.2',
        'firmware_version': '7.5.0.3.220',
        'cann_version': '8.2.RC1',
        'cann_arch': 'aarch64',
        'ascend_install': {'UserName': 'HwHiAiUser', 'UserGroup': 'HwHiAiUser',
                           'Driver_Install_Path_Param': '/usr/local/Ascend'},
    }


def test_software_alone_needs_no_npu_smi(tmp_path):
    args = 'gather=software ascend_root=%s ascend_install_info=%s' % (tmp_path / 'none', tmp_path / 'none.info')
    proc, result = run_module(tmp_path, args, extra_env={'PATH': '/usr/bin:/bin'})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result['ansible_facts']['npu'] == {'software': {
        'driver_version': None, 'firmware_version': None, 'cann_version': None, 'cann_arch': None,
        'ascend_install': None}}


def test_python_versions_from_metadata(tmp_path):
    args = 'gather=python python_path=%s' % PYTHON
    proc, result = run_module(tmp_path, args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = result['ansible_facts']['npu']['python']
    assert set(found) == {'python', 'torch', 'torch_npu', 'torchvision', 'triton', 'triton_ascend',
                          'sglang', 'vllm', 'vllm_ascend'}
    version = subprocess.run([PYTHON, '-c', 'import platform; print(platform.python_version())'],
                             capture_output=True, text=True, check=False).stdout.strip()
    assert found['python'] == version
    assert found['torch_npu'] is None and found['vllm_ascend'] is None


def test_python_versions_of_installed_packages(tmp_path):
    site = tmp_path / 'site'
    for dist, version in (('torch', '2.6.0'), ('torch_npu', '2.6.0.post1'), ('vllm_ascend', '0.8.5rc1'),
                          ('triton_ascend', '3.2.0')):
        info = site / ('%s-%s.dist-info' % (dist, version))
        info.mkdir(parents=True)
        (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: %s\nVersion: %s\n' % (dist.replace('_', '-'), version))
    python = script(tmp_path, 'python', 'PYTHONPATH=%s exec %s "$@"\n' % (site, PYTHON))
    proc, result = run_module(tmp_path, 'gather=python python_path=%s' % python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = result['ansible_facts']['npu']['python']
    assert (found['torch'], found['torch_npu'], found['vllm_ascend'], found['triton_ascend']) == \
        ('2.6.0', '2.6.0.post1', '0.8.5rc1', '3.2.0')
    assert found['sglang'] is None and found['vllm'] is None


# --- failures ---------------------------------------------------------------------------------


def assert_failed(proc, result, *needles):
    assert proc.returncode != 0
    assert result['failed'] is True
    assert_no_traceback(proc)
    for needle in needles:
        assert needle in result['msg'], result['msg']


def test_missing_npu_smi(tmp_path):
    missing = str(tmp_path / 'nowhere' / 'npu-smi')
    proc, result = run_module(tmp_path, 'npu_smi_path=%s' % missing)
    assert_failed(proc, result, missing)


def test_no_npu_smi_anywhere(tmp_path):
    proc, result = run_module(tmp_path, 'gather=chips', extra_env={'PATH': '%s:/usr/bin:/bin' % tmp_path})
    if result.get('failed'):
        assert_failed(proc, result, 'npu-smi not found', '/usr/local/sbin', '/usr/local/bin')
    else:   # a real npu-smi is installed on this machine
        assert os.path.exists('/usr/local/sbin/npu-smi') or os.path.exists('/usr/local/bin/npu-smi')


def test_npu_smi_exits_1(tmp_path):
    npu_smi = script(tmp_path, 'npu-smi', 'echo "dcmi module initialize failed. ret is -8005" >&2\nexit 1\n')
    proc, result = run_module(tmp_path, 'npu_smi_path=%s' % npu_smi)
    assert_failed(proc, result, npu_smi, 'rc=1', 'dcmi module initialize failed. ret is -8005')


def test_simulated_broken_driver(tmp_path):
    npu_smi = emulator_script(tmp_path, {'fail': 'Failed to get device count, ret = 8005'})
    proc, result = run_module(tmp_path, 'npu_smi_path=%s' % npu_smi)
    assert_failed(proc, result, npu_smi, 'Failed to get device count, ret = 8005')


def test_garbage_output(tmp_path):
    npu_smi = script(tmp_path, 'npu-smi', 'echo "Segmentation fault in libdrvdsmi"\necho more\n')
    proc, result = run_module(tmp_path, 'npu_smi_path=%s' % npu_smi)
    assert_failed(proc, result, npu_smi, 'Segmentation fault in libdrvdsmi')
    assert result['bad_line'] == 'Segmentation fault in libdrvdsmi'


def test_truncated_output(tmp_path):
    lines = read('R01_npusmi_910B3_x8_25.2.0_one_proc_vllm-ascend-6512.txt').splitlines()
    cut = tmp_path / 'cut.txt'
    cut.write_text('\n'.join(lines[:12] + [lines[12][:50]]) + '\n')
    npu_smi = script(tmp_path, 'npu-smi', 'cat %s\n' % cut)
    proc, result = run_module(tmp_path, 'npu_smi_path=%s' % npu_smi)
    assert_failed(proc, result, npu_smi, lines[12][:50].rstrip())


def test_empty_output(tmp_path):
    npu_smi = script(tmp_path, 'npu-smi', 'exit 0\n')
    proc, result = run_module(tmp_path, 'npu_smi_path=%s' % npu_smi)
    assert_failed(proc, result, npu_smi, 'empty')


def test_board_of_a_broken_card_fails(tmp_path):
    npu_smi = script(tmp_path, 'npu-smi', 'if [ "$2" = "-l" ]; then printf "\\tTotal Count : 1\\n\\tNPU ID : 9\\n\\tChip Count : 1\\n";'
                     ' else echo "Error: the card id 9 is invalid"; exit 1; fi\n')
    proc, result = run_module(tmp_path, 'npu_smi_path=%s gather=board' % npu_smi)
    assert_failed(proc, result, npu_smi, '-t board -i 9', 'card id 9')


def test_garbage_version_file(tmp_path):
    root = tmp_path / 'Ascend'
    (root / 'driver').mkdir(parents=True)
    (root / 'driver' / 'version.info').write_text('Version=24.1.rc2\n<html>oops</html>\n')
    proc, result = run_module(tmp_path, 'gather=software ascend_root=%s' % root)
    assert_failed(proc, result, str(root / 'driver' / 'version.info'), '<html>oops</html>')


def test_python_gather_needs_python_path(tmp_path):
    proc, result = run_module(tmp_path, 'gather=python')
    assert_failed(proc, result, 'python_path')


def test_python_path_that_prints_garbage(tmp_path):
    python = script(tmp_path, 'python', 'echo "not json"\n')
    proc, result = run_module(tmp_path, 'gather=python python_path=%s' % python)
    assert_failed(proc, result, python, 'not json')


def test_unknown_gather_choice(tmp_path):
    proc, result = run_module(tmp_path, 'gather=chips,gpus')
    assert_failed(proc, result, 'gather')


def test_module_source_is_python38_compatible():
    path = os.path.join(ROOT, 'plugins', 'modules', 'npu_info.py')
    utils = os.path.join(ROOT, 'plugins', 'module_utils', 'npu_smi.py')
    for candidate in ('/root/.pyenv/versions/3.8.18/bin/python', '/usr/bin/python3.8'):
        if os.path.exists(candidate):
            for source in (path, utils):
                proc = subprocess.run([candidate, '-m', 'py_compile', source], capture_output=True, text=True, check=False)
                assert proc.returncode == 0, proc.stderr
            return
    # no 3.8 here: at least parse with the 3.8 grammar
    import ast
    for source in (path, utils):
        with open(source, encoding='utf-8') as handle:
            ast.parse(handle.read(), feature_version=(3, 8))


def test_ansible_doc_renders():
    proc = subprocess.run([os.path.join(os.path.dirname(PYTHON), 'ansible-doc'), '-t', 'module', '--json',
                           'npu.sglang.npu_info'], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)['npu.sglang.npu_info']
    options = doc['doc']['options']
    assert set(options) == {'npu_smi_path', 'ascend_root', 'ascend_install_info', 'python_path', 'gather'}
    assert options['gather']['default'] == ['chips', 'software']
    assert doc['doc']['attributes']['check_mode']['support'] == 'full'
    assert doc['doc']['attributes']['facts']['support'] == 'full'
    assert 'npu' in doc['return']['ansible_facts']['contains']
