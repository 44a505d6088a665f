"""npu.sglang.bench_report run for real: playbooks/report.yml and `ansible localhost -m npu.sglang.bench_report`."""
import json
import os
import subprocess

import pytest

from adhoc import ANSIBLE, PYTHON, ansible_env

from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import build_summary
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import collect_inputs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
BENCH = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'bench')
CLUSTER = os.path.join(BENCH, 'cluster')
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(PYTHON), 'ansible-playbook')

REPORT_FILES = ['report.html', 'report.md', 'results.csv', 'summary.json']
FIXTURE_PLOTS = ['p99.png', 'pareto.png', 'ratio_sglang_vllm.png', 'throughput_cluster.png', 'throughput_host_node1.png',
                 'throughput_host_node2.png', 'throughput_host_samples.png', 'tpot.png', 'ttft.png']


def run_json(command, tmp_path, extra_env=None):
    proc = subprocess.run(command, cwd=ROOT, env=ansible_env(tmp_path, extra_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=600, check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('no JSON from %s (rc=%d):\n%s\n%s' % (command[0], proc.returncode, proc.stdout[-5000:], proc.stderr[-5000:]))
    return proc, report


def run_playbook(tmp_path, input_dir, output_dir, *extra_vars):
    command = [ANSIBLE_PLAYBOOK, 'playbooks/report.yml', '-e', 'report_input_dir=%s' % input_dir, '-e', 'report_output_dir=%s' % output_dir]
    for item in extra_vars:
        command += ['-e', item]
    return run_json(command, tmp_path)


def task_result(report, name):
    for task in report['plays'][0]['tasks']:
        if task['task']['name'].split(' : ', 1)[-1] == name:
            return task['hosts']['localhost']
    raise AssertionError('no task %r in %s' % (name, [t['task']['name'] for t in report['plays'][0]['tasks']]))


def run_module(tmp_path, args, check=False, extra_env=None):
    command = [ANSIBLE, 'localhost', '-m', 'npu.sglang.bench_report', '-a', json.dumps(args)]
    if check:
        command.append('--check')
    proc, report = run_json(command, tmp_path, extra_env)
    return proc, report['plays'][0]['tasks'][0]['hosts']['localhost']


def snapshot(directory):
    result = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, 'rb') as handle:
            result[name] = (handle.read(), os.stat(path).st_mtime_ns)
    return result


def test_report_playbook_writes_everything_then_changes_nothing(tmp_path):
    out = tmp_path / 'report'
    proc, report = run_playbook(tmp_path, 'tests/unit/fixtures/bench', str(out))
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    assert report['stats']['localhost']['changed'] == 1
    assert report['stats']['localhost']['failures'] == 0
    result = task_result(report, 'Build the benchmark report on the controller')
    assert result['changed'] is True
    assert sorted(os.listdir(str(out))) == sorted(REPORT_FILES + FIXTURE_PLOTS)
    assert sorted(result['changed_files']) == sorted(REPORT_FILES + FIXTURE_PLOTS)
    assert result['report'] == str(out / 'report.html')
    assert result['paths']['summary'] == str(out / 'summary.json')
    assert sorted(os.path.basename(path) for path in result['paths']['plots']) == FIXTURE_PLOTS
    assert result['runs'] == 40
    assert result['hosts'] == ['node1', 'node2', 'samples']
    assert result['simulated'] is True
    assert result['knee']['node1']['sglang in 1024 / out 512']['max_concurrency'] == 64     # role default SLA 2000/100 ms p99
    assert result['knee']['node2']['sglang in 1024 / out 512']['max_concurrency'] == 64
    assert [(item['file'], item['line']) for item in result['skipped_inputs']] == [
        ('malformed/bad_line.jsonl', 2), ('malformed/bad_value.log', 23), ('malformed/not_a_result.json', 1),
        ('malformed/truncated_console.txt', 1)]
    assert result['regressions'] == []
    printed = task_result(report, 'Print where the report is')['msg']
    assert printed[0] == 'Report: %s' % (out / 'report.html')
    assert '40 run(s) on 3 host(s); 4 input(s) skipped' in printed

    with open(str(out / 'summary.json')) as handle:
        summary = json.load(handle)
    assert summary['counts']['runs'] == 40 and summary['counts']['skipped_inputs'] == 4
    assert summary['hosts']['samples']['runs']['agg_n50_in128_out64_c8']['ttft_p99_ms'] == 599.2950061988086
    with open(str(out / 'report.md')) as handle:
        markdown = handle.read()
    assert '> **SIMULATED: runs on node1, node2 were made against the NPU simulator' in markdown
    assert '![Output token throughput vs max concurrency on node1.](throughput_host_node1.png)' in markdown

    before = snapshot(str(out))
    proc, report = run_playbook(tmp_path, 'tests/unit/fixtures/bench', str(out))
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    assert report['stats']['localhost']['changed'] == 0
    assert task_result(report, 'Build the benchmark report on the controller')['changed_files'] == []
    assert snapshot(str(out)) == before          # not even rewritten: same bytes, same mtimes


def baseline_file(tmp_path, edit):
    summary = build_summary(collect_inputs(CLUSTER), 'baseline', 1000.0, 50.0)
    edit(summary['hosts'])
    path = tmp_path / 'baseline.json'
    path.write_text(json.dumps(summary))
    return str(path)


def test_regression_gate_fires_and_fails_after_writing(tmp_path):
    def faster_baseline(hosts):
        hosts['node1']['runs']['node1_sglang_in1024_out512_c64']['output_throughput'] = 6000.0   # now 5200: -13.3%
        hosts['node2']['runs']['vllm_c16']['tpot_p99_ms'] = 10.0                                  # now 11.5: +15%
    baseline = baseline_file(tmp_path, faster_baseline)
    out = tmp_path / 'gate'
    proc, result = run_module(tmp_path, {'input_dir': CLUSTER, 'output_dir': str(out), 'baseline': baseline,
                                         'max_throughput_drop_pct': 5, 'max_p99_rise_pct': 10})
    assert result.get('failed') is True, result
    assert proc.returncode != 0
    assert '2 regression(s) against the baseline' in result['msg']
    found = sorted((r['host'], r['point'], r['metric'], r['kind']) for r in result['regressions'])
    assert found == [('node1', 'c64', 'output_throughput', 'throughput_drop'), ('node2', 'c16', 'tpot_p99_ms', 'p99_rise')]
    drop = [r for r in result['regressions'] if r['kind'] == 'throughput_drop'][0]
    assert drop['baseline'] == 6000.0 and drop['current'] == 5200.0
    assert round(drop['change_pct'], 2) == -13.33
    assert (out / 'report.html').exists()         # written before failing
    with open(str(out / 'report.md')) as handle:
        assert 'REGRESSION: 2 finding(s) against the baseline.' in handle.read()

    proc, result = run_module(tmp_path, {'input_dir': CLUSTER, 'output_dir': str(out), 'baseline': baseline,
                                         'max_throughput_drop_pct': 20, 'max_p99_rise_pct': 20})
    assert proc.returncode == 0, result
    assert result['regressions'] == []
    assert result['changed'] is True              # the report now says "No regression"
    with open(str(out / 'summary.json')) as handle:
        assert json.load(handle)['baseline']['compared_points'] == 20


def test_sla_limits_fail_after_writing_and_failed_runs_are_listed(tmp_path):
    out = tmp_path / 'limits'
    proc, result = run_module(tmp_path, {'input_dir': CLUSTER, 'output_dir': str(out), 'limits': {'ttft_p99_ms': 1000000}})
    assert result.get('failed') is True, result
    assert proc.returncode != 0
    # The one SGLang run that completed nothing breaks the limit; vLLM runs are a reference, not checked.
    assert result['limit_violations'] == 1 and '1 SLA limit violation(s)' in result['msg']
    finding, = result['limit_findings']
    assert (finding['host'], finding['run'], finding['kind']) == ('node2', 'node2_sglang_in1024_out512_c128', 'failed')
    assert result['failed_runs'] == [{'host': 'node2', 'run': 'node2_sglang_in1024_out512_c128', 'error': None}]
    with open(str(out / 'report.md')) as handle:
        text = handle.read()
    assert '## SLA limits' in text and 'SLA: 1 violation(s) of the per-run limits.' in text

    proc, result = run_module(tmp_path, {'input_dir': CLUSTER, 'output_dir': str(out), 'limits': {'ttft_p99_ms': 1000000},
                                         'fail_on_limits': False})
    assert proc.returncode == 0 and result['limit_violations'] == 1
    proc, result = run_module(tmp_path, {'input_dir': CLUSTER, 'output_dir': str(out), 'limits': {'ttft_p99': 5}})
    assert result.get('failed') is True and "unknown SLA limit 'ttft_p99'" in result['msg']


def test_check_mode_computes_and_writes_nothing(tmp_path):
    out = tmp_path / 'never'
    proc, result = run_module(tmp_path, {'input_dir': CLUSTER, 'output_dir': str(out), 'sla_ttft_ms': 1000, 'sla_tpot_ms': 50},
                              check=True)
    assert proc.returncode == 0, result
    assert result['changed'] is True
    assert 'summary.json' in result['changed_files']
    assert result['knee']['node1']['sglang in 1024 / out 512']['max_concurrency'] == 32
    assert result['knee']['node1']['vllm in 1024 / out 512']['max_concurrency'] == 16
    assert not out.exists()


def test_missing_input_dir_and_bad_baseline_fail_cleanly(tmp_path):
    proc, result = run_module(tmp_path, {'input_dir': str(tmp_path / 'nope'), 'output_dir': str(tmp_path / 'o')})
    assert result.get('failed') is True and 'is not a directory' in result['msg']
    bad = tmp_path / 'bad.json'
    bad.write_text('[1, 2')
    proc, result = run_module(tmp_path, {'input_dir': CLUSTER, 'output_dir': str(tmp_path / 'o'), 'baseline': str(bad)})
    assert result.get('failed') is True and 'is not valid JSON' in result['msg'] and str(bad) in result['msg']
    assert not (tmp_path / 'o').exists()


def test_missing_matplotlib_is_a_clear_failure(tmp_path):
    shadow = tmp_path / 'shadow' / 'matplotlib'
    shadow.mkdir(parents=True)
    (shadow / '__init__.py').write_text('raise ImportError("No module named matplotlib (test shadow)")\n')
    pythonpath = str(tmp_path / 'shadow')
    if os.environ.get('PYTHONPATH'):
        pythonpath += os.pathsep + os.environ['PYTHONPATH']
    proc, result = run_module(tmp_path, {'input_dir': CLUSTER, 'output_dir': str(tmp_path / 'o')}, extra_env={'PYTHONPATH': pythonpath})
    assert result.get('failed') is True, result
    assert 'matplotlib' in result['msg'] and 'to draw the report' in result['msg']
    assert not (tmp_path / 'o').exists()


def test_module_and_module_utils_compile_on_python38():
    candidates = [os.path.expanduser('~/.pyenv/versions/3.8.18/bin/python3.8'), '/usr/bin/python3.8']
    interpreter = next((path for path in candidates if os.path.exists(path)), None)
    if interpreter is None:
        pytest.skip('no Python 3.8 interpreter on this machine (looked in %s)' % ', '.join(candidates))
    files = [os.path.join(ROOT, 'plugins', 'modules', 'bench_report.py')]
    utils = os.path.join(ROOT, 'plugins', 'module_utils')
    files += sorted(os.path.join(utils, name) for name in os.listdir(utils) if name.startswith('bench_') and name.endswith('.py'))
    source = 'import sys\nfor path in sys.argv[1:]:\n    compile(open(path).read(), path, "exec")\n'
    proc = subprocess.run([interpreter, '-c', source] + files, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
