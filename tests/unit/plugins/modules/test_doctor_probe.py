"""npu.sglang.doctor_probe run for real on this machine (`ansible localhost -m ...`), on config
directories without a deployed server. Its checks of running servers are exercised on a
simulated node by tests/integration/test_doctor.py."""
import json

from adhoc import run_module as run_adhoc


def run_module(tmp_path, args, check=False):
    return run_adhoc(tmp_path, 'npu.sglang.doctor_probe', args, check=check)


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
