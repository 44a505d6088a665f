"""Tests of plugins/module_utils/npu_smi.py on real npu-smi outputs and on the simulator's emulator."""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.npu.sglang.plugins.module_utils.npu_smi import (
    NpuSmiParseError,
    parse_board,
    parse_info,
    parse_key_value,
    parse_list,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'npu_smi')
EMULATOR = os.path.join(ROOT, 'tests', 'sim', 'node', 'npu-smi')

A08 = 'A08_npusmi_910ProB_x1_23.0.rc1_proc_narrow.txt'
A19 = 'A19_npusmi_910B1_x8_23.0.rc2.b090_procs_ELIDED-by-author.txt'
R01 = 'R01_npusmi_910B3_x8_25.2.0_one_proc_vllm-ascend-6512.txt'
R02 = 'R02_npusmi_910B4_x8_24.1.rc3_idle_vllm-ascend-1875.txt'
R03 = 'R03_npusmi_A3_Ascend910_x16_24.1.rc3.5_idle_vllm-ascend-960.txt'
R04 = 'R04_npusmi_A3_Ascend910_x16_25.2.3_procs_vllm-ascend-4930.txt'
R05 = 'R05_npusmi_310P3_300IDuo_x8_25.3.rc1_procs_vllm-ascend-6063.txt'
R06 = 'R06_npusmi_910B4_x1_26.0.rc1_wide_procs-in-container_cut-by-author_triton-ascend.txt'
L01 = 'L01_npusmi_list_910B4_x8_wang-junjian-blog.txt'
K01 = 'K01_ascend_toolkit_install_8.2.RC1_vllm-ascend-6063.info'
INFO_FIXTURES = [A08, A19, R01, R02, R03, R04, R05, R06]

A2_BUS = ['0000:C1:00.0', '0000:C2:00.0', '0000:81:00.0', '0000:82:00.0',
          '0000:01:00.0', '0000:02:00.0', '0000:41:00.0', '0000:42:00.0']
A3_BUS = ['0000:%s:00.0' % b
          for b in ('9D', '9F', '99', '9B', '95', '97', '91', '93', '8D', '8F', '89', '8B', '85', '87', '81', '83')]


def read(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def column(result, key):
    return [chip[key] for chip in result['chips']]


def procs(result):
    return [(p['npu_id'], p['chip_id'], p['pid'], p['name'], p['memory_mb']) for p in result['processes']]


# --- real outputs ---------------------------------------------------------------------------


def test_a08_910prob_single_chip_narrow_with_process():
    result = parse_info(read(A08))
    assert result['npu_smi_version'] == '23.0.rc1'
    assert result['count'] == 1
    assert result['chips'] == [{
        'npu_id': 0, 'chip_id': 0, 'device_id': None, 'name': '910ProB', 'health': 'OK',
        'power_w': 78.4, 'temp_c': 33, 'aicore_pct': 0,
        'hbm_used_mb': 30711, 'hbm_total_mb': 32768,
        'memory_used_mb': 1198, 'memory_total_mb': 15137, 'bus_id': '0000:C1:00.0',
    }]
    assert procs(result) == [(0, 0, 55115, 'python', 30784)]


def test_a19_910b1_elided_rows_are_skipped():
    result = parse_info(read(A19))
    assert result['npu_smi_version'] == '23.0.rc2.b090'
    assert result['count'] == 2                      # the author kept NPU 0 and 7, elided 1-6
    assert column(result, 'npu_id') == [0, 7]
    assert column(result, 'name') == ['910B1', '910B1']
    assert column(result, 'power_w') == [327.1, 451.6]
    assert column(result, 'temp_c') == [54, 76]
    assert column(result, 'aicore_pct') == [57, 68]
    assert column(result, 'hbm_used_mb') == [64293, 64114]
    assert column(result, 'hbm_total_mb') == [65536, 65536]
    assert column(result, 'memory_used_mb') == [0, 0]
    assert column(result, 'bus_id') == ['0000:C1:00.0', '0000:42:00.0']
    assert procs(result) == [(0, 0, 2441447, 'python', 59618), (1, 0, 2441448, 'python', 59834),
                             (7, 0, 2441454, 'python', 59802)]


def test_r01_910b3_one_process_without_name():
    result = parse_info(read(R01))
    assert result['npu_smi_version'] == '25.2.0'
    assert result['count'] == 8
    assert column(result, 'npu_id') == list(range(8))
    assert column(result, 'chip_id') == [0] * 8
    assert column(result, 'device_id') == [None] * 8
    assert column(result, 'name') == ['910B3'] * 8
    assert column(result, 'health') == ['OK'] * 8
    assert column(result, 'power_w') == [97.9, 89.5, 92.3, 92.4, 95.6, 97.2, 91.0, 95.4]
    assert column(result, 'temp_c') == [34, 32, 32, 32, 37, 38, 36, 37]
    assert column(result, 'bus_id') == A2_BUS
    assert column(result, 'hbm_used_mb') == [3408, 3408, 41052, 3390, 3403, 3400, 3401, 3400]
    assert column(result, 'hbm_total_mb') == [65536] * 8
    assert column(result, 'memory_total_mb') == [0] * 8
    assert procs(result) == [(2, 0, 1333928, None, 37709)]


def test_r02_910b4_idle():
    result = parse_info(read(R02))
    assert result['npu_smi_version'] == '24.1.rc3'
    assert result['count'] == 8
    assert column(result, 'name') == ['910B4'] * 8
    assert column(result, 'power_w') == [92.1, 85.2, 84.5, 93.0, 90.3, 92.7, 90.1, 93.8]
    assert column(result, 'hbm_used_mb') == [2828, 2829, 2828, 2828, 2829, 2829, 2829, 2829]
    assert column(result, 'hbm_total_mb') == [32768] * 8
    assert column(result, 'bus_id') == A2_BUS
    assert result['processes'] == []


def test_r03_a3_sixteen_chips_two_per_npu():
    result = parse_info(read(R03))
    assert result['npu_smi_version'] == '24.1.rc3.5'
    assert result['count'] == 16
    assert column(result, 'npu_id') == [n for n in range(8) for chip in (0, 1)]
    assert column(result, 'chip_id') == [0, 1] * 8
    assert column(result, 'device_id') == list(range(16))
    assert column(result, 'name') == ['Ascend910'] * 16
    assert column(result, 'health') == ['OK'] * 16
    assert column(result, 'power_w')[0::2] == [180.2, 185.9, 173.4, 176.2, 178.3, 178.4, 176.0, 181.1]
    assert column(result, 'power_w')[1::2] == [None] * 8          # printed as '-'
    assert column(result, 'bus_id') == A3_BUS
    assert column(result, 'hbm_used_mb') == [3430, 3188, 3430, 3188, 3427, 3187, 3425, 3191,
                                             3414, 3201, 3415, 3203, 3413, 3201, 3427, 3187]
    assert column(result, 'hbm_total_mb') == [65536] * 16
    assert result['processes'] == []


def test_r04_a3_several_processes_per_npu():
    result = parse_info(read(R04))
    assert result['npu_smi_version'] == '25.2.3'
    assert result['count'] == 16
    assert column(result, 'aicore_pct') == [17] * 4 + [0] * 8 + [17] * 4
    assert column(result, 'hbm_used_mb') == [53444, 52948, 53200, 52940, 3128, 2888, 3122, 2888,
                                             3136, 2895, 3130, 2895, 50719, 50242, 50494, 50242]
    assert column(result, 'temp_c') == [52, 51, 51, 52, 52, 52, 51, 51, 51, 49, 51, 50, 53, 50, 52, 52]
    assert procs(result) == [
        (0, 0, 3325989, None, 50128), (0, 0, 3330598, None, 132), (0, 0, 3328327, None, 133),
        (0, 0, 3333165, None, 132), (0, 1, 3328327, None, 50119),
        (1, 0, 3330598, None, 50117), (1, 1, 3333165, None, 50119),
        (6, 0, 3085960, None, 47426), (6, 0, 3085961, None, 122), (6, 0, 3085962, None, 122),
        (6, 0, 3085964, None, 122), (6, 1, 3085961, None, 47416),
        (7, 0, 3085962, None, 47416), (7, 1, 3085964, None, 47416),
    ]


def test_r05_atlas_300i_duo_310p3_memory_not_hbm():
    result = parse_info(read(R05))
    assert result['npu_smi_version'] == '25.3.rc1'
    assert result['count'] == 8
    assert column(result, 'npu_id') == [0, 0, 96, 96, 32768, 32768, 32896, 32896]
    assert column(result, 'chip_id') == [0, 1] * 4
    assert column(result, 'device_id') == list(range(8))
    assert column(result, 'name') == ['310P3'] * 8
    assert column(result, 'power_w') == [None] * 8                # printed as NA
    assert column(result, 'temp_c') == [86, 84, 84, 84, 79, 78, 82, 81]
    assert column(result, 'hbm_used_mb') == [None] * 8
    assert column(result, 'hbm_total_mb') == [None] * 8
    assert column(result, 'memory_used_mb') == [35552, 35270, 1705, 1242, 1696, 1246, 1658, 1265]
    assert column(result, 'memory_total_mb') == [44278, 43693] * 4
    assert column(result, 'bus_id') == ['0000:01:00.0'] * 2 + ['0000:03:00.0'] * 2 + \
        ['0000:81:00.0'] * 2 + ['0000:84:00.0'] * 2
    assert procs(result) == [(0, 0, 326429, None, 33842), (0, 0, 326430, None, 108), (0, 1, 326430, None, 34086)]


def test_r06_wider_cells_and_extra_process_column():
    result = parse_info(read(R06))
    assert result['npu_smi_version'] == '26.0.rc1'
    assert result['count'] == 1
    chip = result['chips'][0]
    assert (chip['npu_id'], chip['name'], chip['health'], chip['power_w'], chip['temp_c']) == (0, '910B4', 'OK', 82.6, 32)
    assert (chip['hbm_used_mb'], chip['hbm_total_mb'], chip['bus_id']) == (2871, 32768, '0000:C1:00.0')
    assert result['processes'] == []


@pytest.mark.parametrize('name', INFO_FIXTURES)
def test_every_chip_has_the_documented_keys(name):
    result = parse_info(read(name))
    assert set(result) == {'npu_smi_version', 'count', 'chips', 'processes'}
    assert result['count'] == len(result['chips'])
    for chip in result['chips']:
        assert set(chip) == {'npu_id', 'chip_id', 'device_id', 'name', 'health', 'power_w', 'temp_c',
                             'aicore_pct', 'hbm_used_mb', 'hbm_total_mb', 'memory_used_mb',
                             'memory_total_mb', 'bus_id'}
        assert isinstance(chip['npu_id'], int) and isinstance(chip['chip_id'], int)
    for proc in result['processes']:
        assert set(proc) == {'npu_id', 'chip_id', 'pid', 'name', 'memory_mb'}


def test_windows_line_endings_and_trailing_spaces():
    text = '\r\n'.join(line + '   ' for line in read(R01).splitlines())
    assert parse_info(text) == parse_info(read(R01))


# --- elided lines -----------------------------------------------------------------------------


def test_author_elisions_anywhere_are_skipped():
    lines = read(R01).splitlines()
    # drop NPUs 1-6 and parts of the process table, leaving '...' in their place
    text = '\n'.join(lines[:9] + ['...'] + lines[26:34] + ['  ...  '] + lines[36:40] + ['\u2026'] + lines[44:])
    result = parse_info(text)
    assert column(result, 'npu_id') == [0, 7]
    assert column(result, 'bus_id') == ['0000:C1:00.0', '0000:42:00.0']
    assert procs(result) == [(2, 0, 1333928, None, 37709)]


# --- unreadable input ---------------------------------------------------------------------------


def expect_error(text, line):
    with pytest.raises(NpuSmiParseError) as caught:
        parse_info(text)
    assert caught.value.line == line
    return caught.value


@pytest.mark.parametrize('text', ['', '   \n\n', None])
def test_empty_input(text):
    error = expect_error(text, '')
    assert 'empty' in str(error)


def test_plain_text():
    error = expect_error('command not found: npu-smi\nsecond line\n', 'command not found: npu-smi')
    assert error.lineno == 1


def test_a_gpu_table_is_not_an_npu_table():
    text = ('+------------------------------------------+\n'
            '| FAKE-SMI 1.0        Driver Version: 1.0  |\n'
            '|-------------------+----------------------+\n'
            '| GPU  Name         | Bus-Id               |\n')
    error = expect_error(text, '| FAKE-SMI 1.0        Driver Version: 1.0  |')
    assert error.lineno == 2


def test_header_only_is_not_enough():
    text = '\n'.join(read(R01).splitlines()[:3])
    error = expect_error(text, read(R01).splitlines()[0])
    assert 'header' in error.reason


def test_truncated_in_the_middle_of_a_row():
    lines = read(R01).splitlines()
    cut = lines[9][:31]              # ends in the middle of "OK"
    error = expect_error('\n'.join(lines[:9] + [cut]), cut)
    assert error.lineno == 10 and 'cut off' in error.reason


def test_truncated_after_the_first_line_of_a_chip():
    lines = read(R01).splitlines()
    error = expect_error('\n'.join(lines[:10]), lines[9])
    assert 'one of its two lines' in error.reason


def test_chip_line_missing_before_a_border():
    lines = read(R02).splitlines()
    text = '\n'.join(lines[:7] + lines[8:])          # NPU 0 lost its second line
    expect_error(text, lines[6])


def test_row_with_a_missing_cell():
    lines = read(R02).splitlines()
    bad = '| 0                         | 0000:C1:00.0  |'
    error = expect_error('\n'.join(lines[:7] + [bad] + lines[8:]), bad)
    assert 'cells' in error.reason


def test_unreadable_number():
    lines = read(R02).splitlines()
    bad = lines[6].replace('92.1', '9x.1')
    error = expect_error('\n'.join(lines[:6] + [bad] + lines[7:]), bad)
    assert error.lineno == 7


def test_unreadable_usage_pair():
    lines = read(R02).splitlines()
    bad = lines[7].replace('2828 / 32768', '2828 - 32768')
    expect_error('\n'.join(lines[:7] + [bad] + lines[8:]), bad)


def test_process_row_without_process_header():
    lines = read(R01).splitlines()
    row = '| 2       0                 | 1333928       |                          | 37709                   |'
    text = '\n'.join(lines[:30] + [row])
    expect_error(text, row)


def test_error_message_names_the_line():
    error = expect_error('garbage here', 'garbage here')
    assert "'garbage here'" in str(error) and 'line 1' in str(error)


@pytest.mark.parametrize('name', INFO_FIXTURES)
def test_any_cut_of_a_real_output_parses_or_raises_the_parse_error(name):
    text = read(name)
    for end in range(0, len(text), 23):
        try:
            parse_info(text[:end])
        except NpuSmiParseError as error:
            assert isinstance(error.line, str)


@pytest.mark.parametrize('name', INFO_FIXTURES)
def test_scrambled_lines_never_raise_anything_else(name):
    lines = read(name).splitlines()
    for step in (2, 3, 5, 7):
        scrambled = lines[::step] + lines[1::step]
        try:
            parse_info('\n'.join(scrambled))
        except NpuSmiParseError:
            pass


# --- npu-smi info -l, -t board, key=value files -----------------------------------------------


def test_list_real_910b4():
    result = parse_list(read(L01))
    assert result == {'total_count': 8, 'npus': [{'npu_id': n, 'chip_count': 1} for n in range(8)]}


def test_list_with_product_and_serial():
    text = ('\tTotal Count                    : 2\n\n'
            '\tNPU ID                         : 0\n'
            '\tProduct Name                   : IT21PDDA01\n'
            '\tSerial Number                  : 033VNY10MA000123\n'
            '\tChip Count                     : 1\n\n'
            '\tNPU ID                         : 1\n'
            '\tProduct Name                   : NA\n'
            '\tSerial Number                  : 033VNY10MA000124\n'
            '\tChip Count                     : 2\n')
    assert parse_list(text) == {'total_count': 2, 'npus': [
        {'npu_id': 0, 'product_name': 'IT21PDDA01', 'serial_number': '033VNY10MA000123', 'chip_count': 1},
        {'npu_id': 1, 'product_name': None, 'serial_number': '033VNY10MA000124', 'chip_count': 2},
    ]}


@pytest.mark.parametrize('text, line', [
    ('', ''),
    ('no colon on this line', 'no colon on this line'),
    ('\tChip Count                     : 1\n', '\tChip Count                     : 1'),
    ('\tTotal Count                    : eight\n', '\tTotal Count                    : eight'),
    ('\tSomething                      : 1\n', '\tSomething                      : 1'),
])
def test_list_garbage(text, line):
    with pytest.raises(NpuSmiParseError) as caught:
        parse_list(text)
    assert caught.value.line == line


BOARD = """        NPU ID                         : 3
        Product Name                   : IT21HMDC
        Model                          : NA
        Manufacturer                   : Huawei
        Serial Number                  : SN-TEST-0003
        Software Version               : 25.5.1
        Firmware Version               : 7.8.0.6.201
        Compatibility                  : OK
        Board ID                       : 0x60
        PCB ID                         : A
        BOM ID                         : 1
        PCIe Bus Info                  : 0000:82:00.0
        Slot ID                        : 3
        Class ID                       : NA
        PCI Vendor ID                  : 0x19E5
        PCI Device ID                  : 0xD802
        Subsystem Vendor ID            : 0x19E5
        Subsystem Device ID            : 0x3003
        Chip Count                     : 1
"""


def test_board():
    board = parse_board(BOARD)
    assert board['npu_id'] == 3
    assert board['chip_count'] == 1
    assert board['model'] is None and board['class_id'] is None
    assert board['pcie_bus_info'] == '0000:82:00.0'
    assert board['software_version'] == '25.5.1'
    assert board['firmware_version'] == '7.8.0.6.201'
    assert board['subsystem_device_id'] == '0x3003'
    assert board['slot_id'] == '3'
    assert len(board) == 19


def test_board_with_chip_sections():
    text = BOARD + '        Chip ID                        : 0\n        Chip Name                      : 910B3\n'
    board = parse_board(text)
    assert board['chips'] == [{'chip_id': 0, 'chip_name': '910B3'}]


@pytest.mark.parametrize('text, line', [
    ('', ''),
    ('Error: card id is invalid\n', 'Error: card id is invalid'),
    ('just words\n', 'just words'),
    ('        NPU ID                         : x\n', '        NPU ID                         : x'),
])
def test_board_garbage(text, line):
    with pytest.raises(NpuSmiParseError) as caught:
        parse_board(text)
    assert caught.value.line == line


def test_key_value_real_toolkit_info():
    info = parse_key_value(read(K01))
    assert info['version'] == '8.2.RC1'
    assert info['arch'] == 'aarch64'
    assert info['package_name'] == 'Ascend-cann-toolkit'
    assert info['compatible_version'].startswith('[V100R001C15],')
    assert len(info) == 7


def test_key_value_driver_and_install_files():
    driver = parse_key_value('Version=24.1.rc2.2\nascendhal_version=7.35.23\n'
                             'compatible_version=[V100R001C15],[V100R001C17]\npackage_version=24.1.rc2.2\n')
    assert driver['Version'] == '24.1.rc2.2' and driver['package_version'] == '24.1.rc2.2'
    install = parse_key_value('# comment\n\nUserName=HwHiAiUser\nDriver_Install_Path_Param=/usr/local/Ascend\n'
                              'Driver_Install_For_All="yes"\n')
    assert install == {'UserName': 'HwHiAiUser', 'Driver_Install_Path_Param': '/usr/local/Ascend',
                       'Driver_Install_For_All': 'yes'}
    assert parse_key_value('') == {}


@pytest.mark.parametrize('text, line', [
    ('Version=1\nthis is not a pair\n', 'this is not a pair'),
    ('=nokey\n', '=nokey'),
    ('two words=x\n', 'two words=x'),
])
def test_key_value_garbage(text, line):
    with pytest.raises(NpuSmiParseError) as caught:
        parse_key_value(text)
    assert caught.value.line == line


# --- round trip through the simulator's npu-smi emulator --------------------------------------


def emulate(tmp_path, config, *args):
    env = dict(os.environ)
    if config is None:
        env['NPU_SIM_CONFIG'] = str(tmp_path / 'absent.json')
    else:
        path = tmp_path / 'node.json'
        path.write_text(json.dumps(config))
        env['NPU_SIM_CONFIG'] = str(path)
    return subprocess.run([sys.executable, EMULATOR] + list(args), env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_emulator_is_an_executable_python3_script():
    with open(EMULATOR, encoding='utf-8') as handle:
        assert handle.readline() == '#!/usr/bin/python3\n'
        assert 'test stand-in' in handle.read(3000).lower()
    assert os.access(EMULATOR, os.X_OK)


def test_emulator_one_chip(tmp_path):
    proc = emulate(tmp_path, {'chips': 1}, 'info')
    assert proc.returncode == 0, proc.stderr
    assert all(len(line) == 98 for line in proc.stdout.splitlines())
    result = parse_info(proc.stdout)
    assert result['npu_smi_version'] == '24.1.rc1'
    assert result['count'] == 1
    chip = result['chips'][0]
    assert (chip['npu_id'], chip['chip_id'], chip['name'], chip['health']) == (0, 0, '910B3', 'OK')
    assert (chip['bus_id'], chip['hbm_used_mb'], chip['hbm_total_mb']) == ('0000:C1:00.0', 3400, 65536)
    assert (chip['memory_used_mb'], chip['memory_total_mb'], chip['aicore_pct']) == (0, 0, 0)
    assert result['processes'] == []
    assert '| No running processes found in NPU 0 ' in proc.stdout


def test_emulator_defaults_without_config_file(tmp_path):
    proc = emulate(tmp_path, None, 'info')
    assert proc.returncode == 0, proc.stderr
    result = parse_info(proc.stdout)
    assert result['count'] == 8
    assert column(result, 'bus_id') == A2_BUS
    assert column(result, 'health') == ['OK'] * 8


def test_emulator_eight_chips_unhealthy_and_busy(tmp_path):
    config = {
        'chips': 8, 'npu_smi_version': '25.2.0', 'health': {'3': 'Critical', '5': 'Warning'},
        'hbm_used_mb': {'7': 60000},
        'processes': [{'npu_id': 2, 'pid': 4242, 'name': 'python', 'memory_mb': 30000},
                      {'npu_id': 2, 'pid': 4243, 'name': 'sglang', 'memory_mb': 1000},
                      {'npu_id': 6, 'pid': 777, 'name': 'python3', 'memory_mb': 20000}],
    }
    proc = emulate(tmp_path, config, 'info')
    assert proc.returncode == 0, proc.stderr
    result = parse_info(proc.stdout)
    assert result['npu_smi_version'] == '25.2.0'
    assert result['count'] == 8
    assert column(result, 'health') == ['OK', 'OK', 'OK', 'Critical', 'OK', 'Warning', 'OK', 'OK']
    assert column(result, 'bus_id') == A2_BUS
    hbm = column(result, 'hbm_used_mb')
    assert hbm[0] == 3400 and hbm[7] == 60000
    assert hbm[2] == 3414 + 31000 and hbm[6] == 3417 + 20000
    assert procs(result) == [(2, 0, 4242, 'python', 30000), (2, 0, 4243, 'sglang', 1000), (6, 0, 777, 'python3', 20000)]
    assert proc.stdout.count('No running processes found in NPU') == 6


def test_emulator_sixteen_chips_a2_layout(tmp_path):
    proc = emulate(tmp_path, {'chips': 16}, 'info')
    result = parse_info(proc.stdout)
    assert result['count'] == 16
    assert column(result, 'npu_id') == list(range(16))
    assert column(result, 'bus_id')[:8] == A2_BUS
    assert len(set(column(result, 'bus_id'))) == 16


def test_emulator_sixteen_chips_a3_layout(tmp_path):
    config = {'chips': 16, 'model': 'Ascend910', 'health': {'9': 'Alarm'},
              'processes': [{'npu_id': 4, 'chip_id': 1, 'pid': 99, 'name': 'python', 'memory_mb': 5000}]}
    proc = emulate(tmp_path, config, 'info')
    assert proc.returncode == 0, proc.stderr
    assert 'Chip  Phy-ID' in proc.stdout
    result = parse_info(proc.stdout)
    assert result['count'] == 16
    assert column(result, 'npu_id') == [n for n in range(8) for chip in (0, 1)]
    assert column(result, 'chip_id') == [0, 1] * 8
    assert column(result, 'device_id') == list(range(16))
    assert column(result, 'bus_id') == A3_BUS
    assert column(result, 'power_w')[1::2] == [None] * 8
    assert column(result, 'health')[9] == 'Alarm'
    assert procs(result) == [(4, 1, 99, 'python', 5000)]
    assert proc.stdout.count('No running processes found in NPU') == 7


def test_emulator_list_and_board(tmp_path):
    config = {'chips': 8, 'driver_version': '24.1.rc2.2', 'firmware_version': '7.5.0.3.220'}
    listing = emulate(tmp_path, config, 'info', '-l')
    assert listing.returncode == 0, listing.stderr
    result = parse_list(listing.stdout)
    assert result['total_count'] == 8
    assert [npu['npu_id'] for npu in result['npus']] == list(range(8))
    assert all(npu['chip_count'] == 1 and npu['serial_number'] and npu['product_name'] for npu in result['npus'])
    for npu_id in (0, 5, 7):
        board = emulate(tmp_path, config, 'info', '-t', 'board', '-i', str(npu_id))
        assert board.returncode == 0, board.stderr
        parsed = parse_board(board.stdout)
        assert parsed['npu_id'] == npu_id
        assert parsed['pcie_bus_info'] == A2_BUS[npu_id]
        assert parsed['software_version'] == '24.1.rc2.2'
        assert parsed['firmware_version'] == '7.5.0.3.220'
        assert parsed['chip_count'] == 1
        assert parsed['pci_vendor_id'] == '0x19E5'
        for key in ('product_name', 'model', 'manufacturer', 'serial_number', 'compatibility', 'board_id',
                    'pcb_id', 'bom_id', 'slot_id', 'class_id', 'pci_device_id', 'subsystem_vendor_id',
                    'subsystem_device_id'):
            assert key in parsed


def test_emulator_a3_list_has_two_chips_per_npu(tmp_path):
    result = parse_list(emulate(tmp_path, {'chips': 16, 'model': 'Ascend910'}, 'info', '-l').stdout)
    assert result['total_count'] == 8
    assert [npu['chip_count'] for npu in result['npus']] == [2] * 8


@pytest.mark.parametrize('npu_id', ['8', '-1', 'x'])
def test_emulator_board_of_a_missing_npu(tmp_path, npu_id):
    proc = emulate(tmp_path, {'chips': 8}, 'info', '-t', 'board', '-i', npu_id)
    assert proc.returncode == 1
    assert npu_id in proc.stdout + proc.stderr


@pytest.mark.parametrize('args', [[], ['info', '-x'], ['status'], ['info', '-t', 'board'], ['info', '-t', 'memory', '-i', '0']])
def test_emulator_usage_errors(tmp_path, args):
    proc = emulate(tmp_path, {'chips': 8}, *args)
    assert proc.returncode == 2
    assert 'Usage' in proc.stderr


def test_emulator_broken_driver(tmp_path):
    proc = emulate(tmp_path, {'fail': 'dcmi module initialize failed. ret is -8005'}, 'info')
    assert proc.returncode == 1
    assert proc.stdout == ''
    assert proc.stderr.strip() == 'dcmi module initialize failed. ret is -8005'
