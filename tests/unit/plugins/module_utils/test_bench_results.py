"""Tests of the benchmark report's parsers, analysis and renderers (plugins/module_utils/bench_*).

Inputs are the real outputs of tests/unit/fixtures/bench/samples (public sglang and vLLM prints and
JSONL), a synthetic two-node cluster (tests/unit/fixtures/bench/cluster: both engines, a failed and a
missing run, meta files, accuracy) and malformed files (tests/unit/fixtures/bench/malformed).
"""
import copy
import csv
import io
import json
import math
import os

import pytest

from ansible_collections.npu.sglang.plugins.module_utils.bench_results import (
    LATENCY_FIELDS,
    RECORD_FIELDS,
    BenchParseError,
    collect_inputs,
    host_for,
    parse_console_text,
    parse_file,
    parse_json_text,
)
from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import (
    build_summary,
    check_regressions,
    cluster_points,
    compare_engines,
    find_knees,
    records_from_summary,
)
from ansible_collections.npu.sglang.plugins.module_utils.bench_report_plots import pareto_front

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
BENCH = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'bench')
SAMPLES = os.path.join(BENCH, 'samples')
CLUSTER = os.path.join(BENCH, 'cluster')
MALFORMED = os.path.join(BENCH, 'malformed')

C02 = 'C02_sglang_bench_serving_DeepSeek-R1_B200x8_v0.5.6.post1_cookbook.txt'
C03 = 'C03_sglang_bench_serving_DeepSeek-V3.2_MTP_acceptlen_B200x8_v0.5.6_cookbook.txt'
C04 = 'C04_sglang_bench_serving_GLM-4.6V_oai-chat_vision_cookbook.txt'
C05 = 'C05_sglang_bench_serving_LLaDA-2.1_B200x4_v0.5.8_cookbook.txt'
C06 = 'C06_sglang_bench_serving_Gemma4_abridged_cookbook.txt'
C07 = 'C07_sglang_bench_serving_Kimi-K2.6_cookbook.txt'
J01 = 'J01_sglang_jsonl_2024-12_llama3.3-70B_H200_datacrunch.jsonl'
J02 = 'J02_sglang_jsonl_2024-12_deepseek_requestrate_Infinity_datacrunch.jsonl'
J03 = 'J03_sglang_jsonl_2025-12_agg_serverinfo_TonyLi15.jsonl'
J04 = 'J04_sglang_jsonl_2025-12_PD_prefill-decode_serverinfo_TonyLi15.jsonl'
J05 = 'J05_sglang_jsonl_0.4.9_random-ids_c4_real-client-vs-sim.jsonl'
V01 = 'V01_vllm_bench_serve_Ascend_Qwen3-8B_trailingpad_vllm-ascend-doc.txt'
V02 = 'V02_vllm_bench_serve_Ascend_Qwen3-Omni_RPSconfigured_vllm-ascend-doc.txt'


def sample(name):
    runs, accuracy = parse_file(os.path.join(SAMPLES, name), display=name, host='h1')
    assert accuracy == []
    return runs


def one(name):
    runs = sample(name)
    assert len(runs) == 1
    return runs[0]


def assert_none(record, fields):
    missing = [field for field in fields if record[field] is not None]
    assert not missing, 'expected None (absent in the input) for %s' % missing


@pytest.fixture(scope='module')
def cluster():
    found = collect_inputs(CLUSTER)
    assert found.skipped == []
    return found


def find(records, host, run):
    matches = [record for record in records if record['host'] == host and record['run'] == run]
    assert len(matches) == 1, (host, run, [(r['host'], r['run']) for r in records])
    return matches[0]


# --------------------------------------------------------------------------- sglang console output

def test_c02_sglang_console_block():
    r = one(C02)
    assert r['engine'] == 'sglang'
    assert r['backend'] == 'sglang'
    assert r['source_format'] == 'sglang-console'
    assert r['source_file'] == C02 and r['source_line'] == 1
    assert r['host'] == 'h1'
    assert math.isinf(r['request_rate'])
    assert r['max_concurrency'] == 1
    assert r['completed'] == 10
    assert r['duration'] == 40.00
    assert r['total_input_tokens'] == 6101 and r['total_output_tokens'] == 4210
    assert r['request_throughput'] == 0.25
    assert r['input_throughput'] == 152.52
    assert r['output_throughput'] == 105.24
    assert r['total_throughput'] == 257.76
    assert r['achieved_concurrency'] == 1.00
    assert r['peak_output_throughput'] == 110.00
    assert r['ttft_mean_ms'] == 153.00
    assert r['ttft_median_ms'] == 140.76
    assert r['ttft_p99_ms'] == 214.66
    assert r['tpot_mean_ms'] == 9.16 and r['tpot_p99_ms'] == 9.21
    assert r['itl_p95_ms'] == 9.47 and r['itl_p99_ms'] == 9.63
    assert r['e2e_mean_ms'] == 3998.40 and r['e2e_median_ms'] == 3207.53
    assert r['status'] == 'ok'
    assert r['derived'] == []
    # Not printed by this version: None, never 0.
    assert_none(r, ['num_prompts', 'failed', 'ttft_std_ms', 'ttft_p90_ms', 'ttft_p95_ms', 'e2e_p99_ms', 'e2e_p90_ms',
                    'tpot_p95_ms', 'accept_length', 'random_input_len', 'random_output_len', 'dataset', 'model'])


def test_c03_accept_length_and_e2e_percentiles():
    r = one(C03)
    assert r['accept_length'] == 2.46
    assert r['e2e_p90_ms'] == 4200.62
    assert r['e2e_p99_ms'] == 5588.52
    assert r['ttft_p99_ms'] == 740.79
    assert r['itl_p95_ms'] == 22.81
    assert r['duration'] == 29.11


def test_c04_oai_chat_backend_with_vision_tokens():
    r = one(C04)
    assert r['backend'] == 'sglang-oai-chat'
    assert r['engine'] == 'sglang'
    assert r['max_concurrency'] == 8
    assert r['completed'] == 128
    assert r['total_input_tokens'] == 315390
    assert r['input_throughput'] == 3533.17
    assert r['total_throughput'] == 4272.76
    assert r['achieved_concurrency'] == 7.67
    assert r['ttft_p99_ms'] == 6152.34
    assert r['itl_p99_ms'] == 116.02


def test_c05_and_c07_values():
    r = one(C05)
    assert (r['tpot_mean_ms'], r['itl_p99_ms'], r['e2e_p90_ms'], r['request_throughput']) == (2.16, 6.34, 1952.50, 1.01)
    r = one(C07)
    assert (r['ttft_mean_ms'], r['ttft_median_ms'], r['ttft_p99_ms']) == (176.89, 154.24, 285.75)
    assert r['e2e_p99_ms'] == 7441.13
    assert r['peak_output_throughput'] == 156.00


def test_c06_abridged_block_keeps_absent_values_none():
    r = one(C06)
    assert r['ttft_mean_ms'] == 50.19
    assert r['ttft_median_ms'] == 54.22
    assert r['tpot_mean_ms'] == 3.99
    assert r['itl_median_ms'] == 4.05
    assert r['output_throughput'] == 242.03
    assert r['total_throughput'] == 591.94
    assert_none(r, ['ttft_p99_ms', 'tpot_p99_ms', 'tpot_median_ms', 'itl_mean_ms', 'itl_p99_ms', 'e2e_mean_ms',
                    'achieved_concurrency', 'peak_output_throughput'])
    # input throughput is not printed; it is derived as sglang defines it, and says so.
    assert r['derived'] == ['input_throughput']
    assert r['input_throughput'] == pytest.approx(6101 / 17.44)


# --------------------------------------------------------------------------- vLLM console output

def test_v01_vllm_console_with_trailing_padding():
    r = one(V01)
    assert r['engine'] == 'vllm'
    assert r['source_format'] == 'vllm-console'
    assert r['backend'] is None
    assert r['completed'] == 10
    assert r['failed'] == 0
    assert r['duration'] == 19.92
    assert r['request_throughput'] == 0.50
    assert r['output_throughput'] == 133.67
    assert r['total_throughput'] == 202.64      # "Total Token throughput" of this vLLM version
    assert r['peak_concurrent_requests'] == 10.0
    assert r['ttft_p99_ms'] == 137.83
    assert r['itl_mean_ms'] == 25.78 and r['itl_p99_ms'] == 28.85
    assert_none(r, ['request_rate', 'max_concurrency', 'num_prompts', 'e2e_mean_ms', 'itl_p95_ms'])


def test_v02_vllm_console_configured_rate():
    r = one(V02)
    assert r['request_rate'] == 1.00
    assert r['completed'] == 200 and r['failed'] == 0
    assert r['duration'] == 211.90
    assert r['total_throughput'] == 309.58
    assert r['tpot_p99_ms'] == 101.52
    assert r['itl_median_ms'] == 96.10
    assert r['status'] == 'ok'


# --------------------------------------------------------------------------- sglang JSONL

def test_j01_2024_jsonl_lines():
    runs = sample(J01)
    assert len(runs) == 7
    assert [r['run'] for r in runs] == ['J01_sglang_jsonl_2024-12_llama3.3-70B_H200_datacrunch#%d' % n for n in range(1, 8)]
    assert [r['request_rate'] for r in runs] == [1.0, 2.0, 4.0, 8.0, 16.0, 4.0, 8.0]
    assert [r['dataset'] for r in runs] == ['random'] * 5 + ['sharegpt'] * 2
    first = runs[0]
    assert first['source_format'] == 'sglang-jsonl'
    assert first['source_line'] == 1
    assert first['completed'] == 300
    assert first['output_throughput'] == 537.4142851849319
    assert first['ttft_median_ms'] == 85.74514742940664
    assert first['itl_median_ms'] == 13.638956006616354
    assert first['e2e_mean_ms'] == 7840.616212638561
    assert first['random_input_len'] == 1024 and first['random_output_len'] == 1024
    # The 2024 lines carry no request_throughput and no mean TTFT.
    assert first['ttft_mean_ms'] is None
    assert first['ttft_p99_ms'] is None
    assert first['max_concurrency'] is None
    assert first['failed'] is None
    assert first['request_throughput'] == pytest.approx(300 / 298.3675805060193)
    assert 'request_throughput' in first['derived']


def test_j02_infinity_request_rate():
    r = one(J02)
    assert math.isinf(r['request_rate']) and r['request_rate'] > 0
    assert r['completed'] == 10000
    assert r['random_input_len'] == 1 and r['random_output_len'] == 512
    assert r['output_throughput'] == 12412.394674113431
    assert r['ttft_median_ms'] == 10014.104524045251


def test_j03_2025_line_with_tag_and_server_info():
    r = one(J03)
    assert r['run'] == 'agg_n50_in128_out64_c8'
    assert r['model'] == 'Qwen/Qwen2.5-3B-Instruct'
    assert r['max_concurrency'] == 8
    assert r['completed'] == 50
    assert r['total_throughput'] == 2242.381460729479
    assert r['ttft_p99_ms'] == 599.2950061988086
    assert r['ttft_std_ms'] == 198.44125490618828
    assert r['itl_p95_ms'] == 21.319825435057282
    assert r['e2e_p99_ms'] == 973.2989947218446
    assert r['achieved_concurrency'] == 7.784201163950447
    assert r['accept_length'] is None
    assert r['derived'] == []


def test_j05_line_of_the_seed_release_client():
    """sglang 0.4.9's own JSONL keys (the seed's release): read as they are, none derived."""
    r = one(J05)
    assert r['completed'] == 16 and r['max_concurrency'] == 4
    assert math.isinf(r['request_rate'])
    assert r['random_input_len'] == 1024 and r['random_output_len'] == 64
    assert r['ttft_mean_ms'] == 2007.3587173125134
    assert r['ttft_p99_ms'] == 2032.9030806997705
    assert r['itl_p95_ms'] == 20.88087539998469
    assert r['e2e_p99_ms'] == 3296.79074619969
    assert r['output_throughput'] == 78.07526717109222
    assert r['achieved_concurrency'] == 3.9931305808609
    assert r['accept_length'] is None


def test_j04_pd_line_model_from_prefill_server():
    r = one(J04)
    assert r['run'] == 'pd_1p1d_n100_in512_out128_c64'
    assert r['model'] == 'Qwen/Qwen2.5-3B-Instruct'
    assert r['max_concurrency'] == 64
    assert r['ttft_mean_ms'] == 5398.151867231354
    assert r['random_input_len'] == 512 and r['random_output_len'] == 128


def test_every_record_has_every_field():
    for name in (C02, C06, V01, J01, J03):
        for record in sample(name):
            assert set(record) == set(RECORD_FIELDS)


# --------------------------------------------------------------------------- vLLM JSON, meta, failed runs

def test_vllm_json_with_meta(cluster):
    r = find(cluster.runs, 'node1', 'vllm_c8')
    assert r['engine'] == 'vllm'
    assert r['source_format'] == 'vllm-json'
    assert r['source_file'] == 'raw/node1/vllm_c8.json'
    assert math.isinf(r['request_rate'])          # "inf" string of vLLM
    assert r['num_prompts'] == 256
    assert r['completed'] == 254
    assert r['failed'] == 2
    assert r['status'] == 'partial'
    assert r['e2e_mean_ms'] == 1296.0              # mean_e2el_ms
    assert r['total_throughput'] == 2400.0         # total_token_throughput
    assert r['peak_output_throughput'] == 1040.0
    assert r['random_input_len'] == 1024 and r['random_output_len'] == 512   # from the meta file
    assert r['command'].startswith('vllm bench serve')
    assert r['server_flags'] == '--tensor-parallel-size 8'
    assert r['simulated'] is True


def test_sglang_jsonl_meta_gives_requested_and_failed(cluster):
    r = find(cluster.runs, 'node1', 'node1_sglang_in1024_out512_c64')
    assert r['num_prompts'] == 256 and r['completed'] == 256 and r['failed'] == 0
    assert r['server_flags'] == '--attention-backend ascend --tp-size 8'
    assert r['ttft_p90_ms'] == 1200.0 and r['ttft_p95_ms'] == 1350.0 and r['ttft_p99_ms'] == 1500.0


def test_run_that_completed_nothing_is_failed_not_zero(cluster):
    r = find(cluster.runs, 'node2', 'node2_sglang_in1024_out512_c128')
    assert r['status'] == 'failed'
    assert r['completed'] == 0
    assert r['failed'] == 256
    assert_none(r, ('request_throughput', 'input_throughput', 'output_throughput', 'total_throughput') + LATENCY_FIELDS)


def test_vllm_json_failed_field_and_all_failed(tmp_path):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps({'backend': 'vllm', 'completed': 0, 'failed': 12, 'duration': 3.0, 'request_throughput': 0.0,
                                'output_throughput': 0.0, 'total_token_throughput': 0.0, 'mean_ttft_ms': 0.0, 'p99_ttft_ms': 0.0}))
    runs, _acc = parse_file(str(path), host='x')
    r = runs[0]
    assert r['failed'] == 12                      # the file's own count: no num_prompts known
    assert r['status'] == 'failed'
    assert r['output_throughput'] is None and r['ttft_mean_ms'] is None and r['ttft_p99_ms'] is None


def test_nan_is_missing_and_negative_infinity_parses():
    runs, _acc = parse_json_text('{"completed": 3, "duration": 1.5, "output_throughput": NaN, "mean_ttft_ms": NaN, '
                                 '"request_rate": -Infinity, "total_output_tokens": 30}\n', 'x.jsonl')
    r = runs[0]
    assert r['ttft_mean_ms'] is None
    assert r['request_rate'] == float('-inf')
    assert r['output_throughput'] is None        # NaN is not a number to report


# --------------------------------------------------------------------------- console variants

def test_console_log_with_several_blocks_prefix_and_preamble():
    text = '\n'.join([
        "Namespace(backend='sglang', num_prompts=64, max_concurrency=16, random_input_len=2048, random_output_len=256, "
        "request_rate=inf, dataset_name='random')",
        '#Input tokens: 131072',
        '# ============ Serving Benchmark Result ============',
        '# Backend:                                 sglang    ',
        '# Traffic request rate:                    inf       ',
        '# Successful requests:                     64        ',
        '# Benchmark duration (s):                  20.00     ',
        '# Request throughput (req/s):              3.20      ',
        '# Output token throughput (tok/s):         819.20    ',
        '# Total throughput (tok/s):                7372.80   ',
        '# ---------------Inter-token Latency----------------',
        '# Mean ITL (ms):                           12.50     ',
        '# ==================================================',
        'Traffic request rate: inf',
        'Burstiness factor: 1.0 (Poisson process)',
        'Maximum request concurrency: 32',
        '============ Serving Benchmark Result ============',
        'Successful requests:                     30        ',
        'Failed requests:                         2         ',
        'Benchmark duration (s):                  10.00     ',
        'Mean E2EL (ms):                          900.00    ',
        'P90 TTFT (ms):                           50.00     ',
        '==================================================',
    ])
    first, second = parse_console_text(text, 'multi.log')
    assert first['source_format'] == 'sglang-console'
    assert first['num_prompts'] == 64 and first['max_concurrency'] == 16
    assert first['random_input_len'] == 2048 and first['random_output_len'] == 256
    assert first['dataset'] == 'random'
    assert first['total_throughput'] == 7372.80          # older "Total throughput" label
    assert first['itl_mean_ms'] == 12.50
    assert first['source_line'] == 3
    assert second['source_format'] == 'vllm-console' and second['engine'] == 'vllm'
    assert second['max_concurrency'] == 32               # printed before the block by vLLM
    assert second['failed'] == 2 and second['completed'] == 30
    assert second['e2e_mean_ms'] == 900.00
    assert second['ttft_p90_ms'] == 50.00
    assert second['num_prompts'] is None                 # the Namespace belongs to the first block


def test_sglang_client_against_vllm_server_is_vllm_engine():
    text = ('============ Serving Benchmark Result ============\nBackend: vllm-chat\nSuccessful requests: 5\n'
            'Max request concurrency: not set\n==================================================\n')
    (r,) = parse_console_text(text, 'x.txt')
    assert r['engine'] == 'vllm' and r['source_format'] == 'sglang-console'
    assert r['max_concurrency'] is None


# --------------------------------------------------------------------------- malformed input

@pytest.mark.parametrize('name,line,words', [
    ('bad_line.jsonl', 2, 'not valid JSON'),
    ('bad_value.log', 23, "got 'abc'"),
    ('not_a_result.json', 1, 'not a benchmark result'),
    ('truncated_console.txt', 1, 'not closed'),
])
def test_malformed_file_raises_naming_file_and_line(name, line, words):
    with pytest.raises(BenchParseError) as info:
        parse_file(os.path.join(MALFORMED, name), display='malformed/' + name)
    assert info.value.path == 'malformed/' + name
    assert info.value.line == line
    assert words in info.value.message
    assert str(info.value).startswith('malformed/%s:%d: ' % (name, line))


def test_text_without_a_result_block_is_malformed(tmp_path):
    path = tmp_path / 'server.log'
    path.write_text('The server is fired up and ready to roll!\n')
    with pytest.raises(BenchParseError, match='no .Serving Benchmark Result. block'):
        parse_file(str(path))


def test_collect_skips_malformed_files_and_keeps_the_rest():
    found = collect_inputs(BENCH)
    skipped = dict((item['file'], item) for item in found.skipped)
    assert sorted(skipped) == ['malformed/bad_line.jsonl', 'malformed/bad_value.log', 'malformed/not_a_result.json',
                               'malformed/truncated_console.txt']
    assert skipped['malformed/bad_line.jsonl']['line'] == 2
    # the good first line of bad_line.jsonl is not half-used: the whole file is skipped
    assert not [r for r in found.runs if r['source_file'].startswith('malformed/')]
    assert len([r for r in found.runs if r['host'] == 'samples']) == 19
    assert len([r for r in found.runs if r['host'] in ('node1', 'node2')]) == 21
    assert sorted((a['host'], a['task']) for a in found.accuracy) == [('node1', 'gsm8k'), ('node1', 'mmlu')]


def test_bad_meta_file_is_listed_and_the_result_still_read(tmp_path):
    host = tmp_path / 'raw' / 'n9'
    host.mkdir(parents=True)
    with open(os.path.join(SAMPLES, C02)) as handle:
        (host / 'c1.txt').write_text(handle.read())
    (host / 'c1.meta.json').write_text('{"engine": "sglang",')
    found = collect_inputs(str(tmp_path))
    assert [(item['file'], item['line']) for item in found.skipped] == [('raw/n9/c1.meta.json', None)]
    assert [(r['host'], r['run'], r['ttft_mean_ms']) for r in found.runs] == [('n9', 'c1', 153.0)]


def test_output_dir_inside_input_dir_is_not_read(tmp_path):
    (tmp_path / 'raw' / 'a').mkdir(parents=True)
    with open(os.path.join(SAMPLES, J03)) as handle:
        (tmp_path / 'raw' / 'a' / 'r.jsonl').write_text(handle.read())
    (tmp_path / 'report').mkdir()
    (tmp_path / 'report' / 'summary.json').write_text('{"hosts": {}}')
    found = collect_inputs(str(tmp_path), exclude=[str(tmp_path / 'report')])
    assert found.skipped == [] and len(found.runs) == 1


def test_host_from_layout():
    assert host_for('raw/node7/c32.jsonl', 'x') == 'node7'
    assert host_for('2026-01/raw/node7/sub/c32.jsonl', 'x') == 'node7'
    assert host_for('accuracy/node3/result.jsonl', 'x') == 'node3'
    assert host_for('samples/C02.txt', 'x') == 'samples'
    assert host_for('C02.txt', 'top') == 'top'


def test_accuracy_lines(cluster):
    by_task = dict((a['task'], a) for a in cluster.accuracy)
    assert by_task['mmlu']['accuracy'] == 0.25
    assert by_task['mmlu']['latency'] == 213.587
    assert by_task['mmlu']['num_requests'] == 14042
    assert by_task['gsm8k']['accuracy'] == 0.0
    assert by_task['gsm8k']['source_file'] == 'accuracy/node1/result.jsonl' and by_task['gsm8k']['source_line'] == 2


# --------------------------------------------------------------------------- knee

def test_knee_within_sla(cluster):
    knees = find_knees(cluster.runs, 1000, 50, 'p99')
    node1 = knees['node1']
    assert node1['sglang in 1024 / out 512']['max_concurrency'] == 32
    assert node1['sglang in 1024 / out 512']['output_throughput'] == 3100.0
    assert node1['sglang in 1024 / out 512']['ttft_ms'] == 800.0
    assert node1['vllm in 1024 / out 512']['max_concurrency'] == 16
    assert node1['vllm in 1024 / out 2048']['max_concurrency'] is None
    assert 'no run within the SLA' in node1['vllm in 1024 / out 2048']['reason']
    looser = find_knees(cluster.runs, 2000, 50, 'p99')
    assert looser['node1']['sglang in 1024 / out 512']['max_concurrency'] == 64
    assert looser['node1']['vllm in 1024 / out 512']['max_concurrency'] == 32
    # the failed c128 of node2 is never the knee, however loose the SLA
    loosest = find_knees(cluster.runs, 10 ** 6, 10 ** 6, 'p99')
    assert loosest['node2']['sglang in 1024 / out 512']['max_concurrency'] == 64
    assert loosest['node1']['sglang in 1024 / out 512']['max_concurrency'] == 128
    # TPOT alone limits the knee: P99 TPOT 16 ms at c64 is over 15 ms
    tpot_bound = find_knees(cluster.runs, 10 ** 6, 15, 'p99')
    assert tpot_bound['node1']['sglang in 1024 / out 512']['max_concurrency'] == 32
    assert tpot_bound['node1']['sglang in 1024 / out 512']['tpot_ms'] == 12.0
    assert tpot_bound['node1']['vllm in 1024 / out 512']['max_concurrency'] == 32
    by_mean = find_knees(cluster.runs, 1000, 50, 'mean')
    assert by_mean['node1']['sglang in 1024 / out 512']['max_concurrency'] == 64


def test_knee_needs_the_sla_statistic():
    records = sample(C06)
    knees = find_knees(records, 10 ** 6, 10 ** 6, 'p99')
    entry = knees['h1']['sglang random']
    assert entry['max_concurrency'] is None and 'no p99 TTFT/TPOT' in entry['reason']
    assert find_knees(records, 10 ** 6, 10 ** 6, 'mean')['h1']['sglang random']['max_concurrency'] == 1


# --------------------------------------------------------------------------- cluster and comparison

def test_cluster_sum_marks_failed_and_missing(cluster):
    rows = dict(((row['engine'], row['workload'], row['max_concurrency']), row) for row in cluster_points(cluster.runs))
    assert rows[('sglang', 'in 1024 / out 512', 8)]['output_throughput'] == 1780.0
    assert rows[('sglang', 'in 1024 / out 512', 64)]['output_throughput'] == 10300.0
    assert rows[('sglang', 'in 1024 / out 512', 8)]['hosts'] == 2
    failed = rows[('sglang', 'in 1024 / out 512', 128)]
    assert failed['state'] == 'failed' and failed['failed_hosts'] == ['node2'] and failed['output_throughput'] is None
    missing = rows[('vllm', 'in 1024 / out 512', 64)]
    assert missing['state'] == 'missing' and missing['missing_hosts'] == ['node2'] and missing['output_throughput'] is None
    assert rows[('vllm', 'in 1024 / out 512', 128)]['output_throughput'] == 4150.0


def test_sglang_vllm_ratios(cluster):
    comparison = compare_engines(cluster.runs)
    rows = dict(((row['host'], row['workload'], row['max_concurrency']), row) for row in comparison['rows'])
    c32 = rows[('node1', 'in 1024 / out 512', 32)]['metrics']
    assert c32['output_throughput']['sglang'] == 3100.0 and c32['output_throughput']['vllm'] == 2400.0
    assert c32['output_throughput']['ratio'] == pytest.approx(3100.0 / 2400.0)
    assert c32['ttft_mean_ms']['ratio'] == pytest.approx(400.0 / 550.0)
    assert c32['itl_p99_ms']['ratio'] == pytest.approx(18.0 / 22.4)
    gap = rows[('node2', 'in 1024 / out 512', 64)]['metrics']['output_throughput']
    assert gap['ratio'] is None and gap['vllm_state'] == 'missing' and gap['sglang'] == 5100.0
    bad = rows[('node2', 'in 1024 / out 512', 128)]['metrics']['output_throughput']
    assert bad['ratio'] is None and bad['sglang_state'] == 'failed' and bad['sglang'] is None
    assert [(r['host'], r['workload']) for r in comparison['fixed_batch']] == [
        ('node1', 'in 1024 / out 512'), ('node1', 'in 1024 / out 2048'), ('node2', 'in 1024 / out 512')]
    assert [(r['host'], r['max_concurrency']) for r in comparison['sweep']] == [
        ('node1', 8), ('node1', 16), ('node1', 32), ('node1', 64), ('node1', 128),
        ('node2', 8), ('node2', 16), ('node2', 32), ('node2', 64), ('node2', 128)]
    assert comparison['long_output_len'] == 2048
    (long_row,) = comparison['long']
    assert long_row['metrics']['output_throughput']['ratio'] == pytest.approx(2900.0 / 2320.0)


def test_no_comparison_with_one_engine():
    assert compare_engines(sample(J01)) is None


# --------------------------------------------------------------------------- regression gate

def test_regression_gate(cluster):
    baseline = copy.deepcopy(cluster.runs)
    regressions, compared = check_regressions(cluster.runs, baseline, 5.0, 10.0)
    assert regressions == []
    assert compared == 20                      # 21 points, the failed one is not a reference
    current = copy.deepcopy(cluster.runs)
    find(current, 'node1', 'node1_sglang_in1024_out512_c64')['output_throughput'] = 5200.0 * 0.9
    find(current, 'node2', 'vllm_c32')['ttft_p99_ms'] = 1100.0 * 1.2
    find(current, 'node1', 'vllm_c8').update(status='failed', output_throughput=None)
    regressions, _compared = check_regressions(current, baseline, 5.0, 10.0)
    found = sorted((r['host'], r['engine'], r['point'], r['metric'], r['kind']) for r in regressions)
    assert found == [('node1', 'sglang', 'c64', 'output_throughput', 'throughput_drop'),
                     ('node1', 'vllm', 'c8', 'status', 'failed'),
                     ('node2', 'vllm', 'c32', 'ttft_p99_ms', 'p99_rise')]
    drop = [r for r in regressions if r['kind'] == 'throughput_drop'][0]
    assert drop['change_pct'] == pytest.approx(-10.0) and drop['baseline'] == 5200.0
    rise = [r for r in regressions if r['kind'] == 'p99_rise'][0]
    assert rise['change_pct'] == pytest.approx(20.0)
    # looser limits: only the failed run remains
    regressions, _compared = check_regressions(current, baseline, 15.0, 25.0)
    assert [(r['host'], r['kind']) for r in regressions] == [('node1', 'failed')]


def test_baseline_roundtrip_through_summary(cluster):
    summary = build_summary(cluster, 'T', 1000, 50)
    restored = records_from_summary(json.loads(json.dumps(summary)))
    assert len(restored) == 21
    assert check_regressions(cluster.runs, restored, 5.0, 10.0) == ([], 20)


# --------------------------------------------------------------------------- summary and rendering

def test_summary_document(cluster):
    summary = build_summary(cluster, 'T', 1000, 50)
    text = json.dumps(summary, allow_nan=False)            # strict JSON: inf became "inf"
    assert '"request_rate": "inf"' in text
    assert summary['simulated'] is True and summary['simulated_hosts'] == ['node1', 'node2']
    assert summary['counts'] == {'hosts': 2, 'runs': 21, 'failed_runs': 1, 'accuracy_entries': 2, 'skipped_inputs': 0}
    assert list(summary['hosts']) == ['node1', 'node2']
    assert summary['hosts']['node2']['runs']['node2_sglang_in1024_out512_c128']['status'] == 'failed'
    assert summary['hosts']['node2']['runs']['node2_sglang_in1024_out512_c128']['output_throughput'] is None
    assert [a['simulated'] for a in summary['hosts']['node1']['accuracy']] == [True, True]
    assert summary['baseline'] is None and summary['regressions'] == []


def test_render_files(cluster):
    pytest.importorskip('matplotlib')
    from ansible_collections.npu.sglang.plugins.module_utils.bench_report_render import render_files
    found = collect_inputs(BENCH)
    summary = build_summary(found, 'Fixture report', 1000, 50)
    files = render_files(summary)
    pngs = sorted(name for name in files if name.endswith('.png'))
    assert pngs == ['p99.png', 'pareto.png', 'ratio_sglang_vllm.png', 'throughput_cluster.png', 'throughput_host_node1.png',
                    'throughput_host_node2.png', 'throughput_host_samples.png', 'tpot.png', 'ttft.png']
    for name in pngs:
        assert files[name][:8] == b'\x89PNG\r\n\x1a\n'
    html = files['report.html'].decode('utf-8')
    assert html.count('src="data:image/png;base64,') == len(pngs)
    assert 'http://' not in html and 'https://' not in html and '<script' not in html and '<link' not in html
    assert 'SIMULATED: runs on node1, node2 were made against the NPU simulator' in html
    assert 'simulator answers, meaningless, not a model score' in html
    assert '<td class="failed num">failed</td>' in html and '<td class="missing num">missing</td>' in html
    markdown = files['report.md'].decode('utf-8')
    skipped = markdown.split('## Skipped inputs', 1)[1]
    for name in ('malformed/bad_line.jsonl:2', 'malformed/bad_value.log:23', 'malformed/not_a_result.json:1',
                 'malformed/truncated_console.txt:1'):
        assert name in skipped
    for title in ('### Fixed batch 32', '### Concurrency sweep 8 to 128', '### TTFT / TPOT / P99', '### Long generations', '## Accuracy'):
        assert title in markdown
    assert '| node1 | in 1024 / out 512 | 32 | 3100.0 | 2400.0 | 1.29x |' in markdown
    assert '| node2 | in 1024 / out 512 | 64 | 5100.0 | **missing** | **missing** |' in markdown
    assert '| sglang | in 1024 / out 512 | 128 | 2 | **failed** | **failed** | failed on node2 |' in markdown
    rows = list(csv.DictReader(io.StringIO(files['results.csv'].decode('utf-8'))))
    assert len(rows) == 40
    failed = [row for row in rows if row['run'] == 'node2_sglang_in1024_out512_c128'][0]
    assert failed['status'] == 'failed' and failed['output_throughput'] == '' and failed['failed'] == '256'
    j02 = [row for row in rows if row['run'].startswith('J02_')][0]
    assert j02['request_rate'] == 'inf'
    # rendering is deterministic: a rerun on the same data gives the same bytes
    again = render_files(summary)
    assert again == files


def test_pareto_front():
    points = [(10.0, 100.0), (12.0, 90.0), (15.0, 300.0), (20.0, 250.0), (30.0, 400.0)]
    assert pareto_front(points) == [0, 2, 4]


# --------------------------------------------------------------------------- what role sglang_bench writes

SGLANG_LINE = {'backend': 'sglang', 'dataset_name': 'random-ids', 'request_rate': float('inf'), 'max_concurrency': 8,
               'random_input_len': 1024, 'random_output_len': 64, 'duration': 10.0, 'completed': 32, 'total_input_tokens': 32768,
               'total_output_tokens': 2048, 'request_throughput': 3.2, 'input_throughput': 3276.8, 'output_throughput': 204.8,
               'mean_ttft_ms': 120.0, 'median_ttft_ms': 110.0, 'p99_ttft_ms': 300.0, 'mean_tpot_ms': 21.0, 'p99_tpot_ms': 25.0,
               'mean_e2e_latency_ms': 1500.0, 'p99_e2e_latency_ms': 1800.0, 'mean_itl_ms': 21.0, 'p99_itl_ms': 30.0}
CONSOLE = """
============ Serving Benchmark Result ============
Backend:                                 sglang
Max request concurrency:                 8
Successful requests:                     32
Benchmark duration (s):                  10.00
Output token throughput (tok/s):         999.00
==================================================
"""


def write_run(directory, name, line=None, console=None, meta=None):
    directory.mkdir(parents=True, exist_ok=True)
    if line is not None:
        (directory / (name + '.jsonl')).write_text(json.dumps(line) + '\n')
    if console is not None:
        (directory / (name + '.log')).write_text(console)
    if meta is not None:
        (directory / (name + '.meta.json')).write_text(json.dumps(meta))


def test_console_output_beside_a_jsonl_is_not_a_second_run(tmp_path):
    raw = tmp_path / 'raw' / 'n1'
    write_run(raw, 'main_sglang_c8', line=SGLANG_LINE, console=CONSOLE, meta={'num_prompts': 32, 'engine': 'sglang'})
    write_run(raw, 'console_only', console=CONSOLE)
    found = collect_inputs(str(tmp_path))
    assert found.skipped == []
    assert sorted((r['run'], r['source_format'], r['output_throughput']) for r in found.runs) == [
        ('console_only', 'sglang-console', 999.0), ('main_sglang_c8', 'sglang-jsonl', 204.8)]


def test_a_crashed_run_is_failed_from_its_meta_and_names_its_error(tmp_path):
    raw = tmp_path / 'raw' / 'n1'
    meta = {'engine': 'sglang', 'backend': 'sglang', 'num_prompts': 64, 'max_concurrency': 16, 'input_len': 1024, 'output_len': 64,
            'dataset': 'random-ids', 'status': 'failed', 'error': 'exit code 1, no result line: ValueError: Warmup failed',
            'command': ['docker', 'run', 'img'], 'run_id': 'r1', 'simulated': True}
    write_run(raw, 'main_sglang_c16', console='Traceback (most recent call last):\nValueError: Warmup failed\n', meta=meta)
    write_run(raw, 'main_sglang_c32', meta=dict(meta, max_concurrency=32, error='timed out after 3600 s'))
    write_run(raw, 'main_sglang_c8', line=SGLANG_LINE, meta={'status': 'ok', 'num_prompts': 32})
    write_run(raw, 'orphan_ok', meta={'status': 'ok'})  # metadata of a run that says nothing failed: not a run
    found = collect_inputs(str(tmp_path))
    assert found.skipped == []
    by_run = dict((r['run'], r) for r in found.runs)
    assert sorted(by_run) == ['main_sglang_c16', 'main_sglang_c32', 'main_sglang_c8']
    crashed = by_run['main_sglang_c16']
    assert (crashed['status'], crashed['completed'], crashed['failed'], crashed['max_concurrency']) == ('failed', 0, 64, 16)
    assert crashed['error'].startswith('exit code 1, no result line: ValueError: Warmup failed (')
    assert "no 'Serving Benchmark Result' block" in crashed['error']
    assert crashed['host'] == 'n1' and crashed['simulated'] is True and crashed['run_id'] == 'r1'
    assert crashed['output_throughput'] is None and crashed['ttft_mean_ms'] is None
    assert by_run['main_sglang_c32']['error'] == 'timed out after 3600 s'
    assert by_run['main_sglang_c8']['status'] == 'ok'
    summary = build_summary(found, 't', 2000.0, 100.0)
    assert summary['counts']['failed_runs'] == 2


def test_server_flags_from_server_info_skip_unset_values():
    from ansible_collections.npu.sglang.plugins.module_utils.bench_results import apply_meta, new_record
    record = apply_meta(new_record(), {'server_flags': {'tp_size': 2, 'api_key': None, 'enable_metrics': False, 'model_path': '/m',
                                                        'cuda_graph_bs': [1, 2], 'lora_paths': None}})
    assert record['server_flags'] == 'cuda_graph_bs=[1, 2] model_path=/m tp_size=2'


def test_sla_limits_per_run(tmp_path):
    from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import LimitsError, check_limits, clean_limits
    raw = tmp_path / 'raw' / 'n1'
    write_run(raw, 'ok', line=SGLANG_LINE, meta={'num_prompts': 32, 'engine': 'sglang'})
    write_run(raw, 'slow', line=dict(SGLANG_LINE, p99_ttft_ms=2500.0, max_concurrency=16), meta={'num_prompts': 32, 'engine': 'sglang'})
    write_run(raw, 'partial', line=dict(SGLANG_LINE, completed=30, max_concurrency=32), meta={'num_prompts': 32, 'engine': 'sglang'})
    write_run(raw, 'dead', meta={'num_prompts': 32, 'engine': 'sglang', 'max_concurrency': 64, 'status': 'failed', 'error': 'boom'})
    write_run(raw, 'vllm', line=dict(SGLANG_LINE, backend='vllm', p99_ttft_ms=9999.0, max_concurrency=8),
              meta={'num_prompts': 32, 'engine': 'vllm'})
    found = collect_inputs(str(tmp_path))
    limits = {'ttft_p99_ms': 2000, 'min_completed_ratio': 1.0, 'e2e_p99_ms': None}
    findings = check_limits(found.runs, limits)
    got = sorted((f['run'], f['limit'], f['kind'], f['value']) for f in findings)
    assert got == [('dead', 'min_completed_ratio', 'failed', 0.0), ('dead', 'ttft_p99_ms', 'failed', None),
                   ('partial', 'min_completed_ratio', 'violation', 30 / 32.0), ('slow', 'ttft_p99_ms', 'violation', 2500.0)]
    assert check_limits(found.runs, {'min_output_throughput': 1000}, engines=('vllm',))[0]['run'] == 'vllm'
    assert check_limits(found.runs, {}) == []
    summary = build_summary(found, 't', 2000.0, 100.0, limits=limits)
    assert summary['limits']['violations'] == 4 and summary['limits']['values'] == {'ttft_p99_ms': 2000.0, 'min_completed_ratio': 1.0}
    for bad in ({'p50_ttft': 1}, {'ttft_p99_ms': -1}, {'ttft_p99_ms': 'fast'}, {'tpot_mean_ms': True}, {'min_completed_ratio': 2}):
        with pytest.raises(LimitsError):
            clean_limits(bad)


def test_comparison_reports_memory_when_recorded(tmp_path):
    raw = tmp_path / 'raw' / 'n1'
    for engine, hbm, out in (('sglang', 52000, 300.0), ('vllm', 58000, 250.0)):
        for c in (8, 32):
            write_run(raw, 'main_%s_c%d' % (engine, c), line=dict(SGLANG_LINE, backend=engine, max_concurrency=c, output_throughput=out),
                      meta={'num_prompts': 32, 'engine': engine, 'hbm_used_mb': hbm})
    summary = build_summary(collect_inputs(str(tmp_path)), 't', 2000.0, 100.0)
    row = [r for r in summary['comparison']['rows'] if r['max_concurrency'] == 32][0]
    assert row['metrics']['hbm_used_mb']['ratio'] == pytest.approx(52000 / 58000.0)
    assert row['metrics']['output_throughput']['ratio'] == pytest.approx(1.2)
    from ansible_collections.npu.sglang.plugins.module_utils.bench_report_render import render_files
    markdown = render_files(summary, with_plots=False)['report.md'].decode('utf-8')
    assert '### Memory use' in markdown and '0.90' in markdown
