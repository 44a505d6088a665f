# -*- coding: utf-8 -*-
# Copyright: npu.sglang maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Parsers for the text that Huawei's ``npu-smi`` tool and the Ascend install files print.

Pure functions on strings, with no Ansible import, so that they run on the target host inside
a module and in unit tests alike (Python 3.8 and later).

* :func:`parse_info` reads the box table of ``npu-smi info``. The table is read through its
  header rows: each data cell is matched against the column names of the header cell above it,
  so boards with other column sets (Atlas 300I Duo / 310P3 without HBM, A3 / 910_93 with a
  ``Phy-ID`` column, newer drivers with wider cells or extra process columns) parse the same way.
* :func:`parse_list` reads ``npu-smi info -l``.
* :func:`parse_board` reads ``npu-smi info -t board -i N``.
* :func:`parse_key_value` reads ``key=value`` files such as ``driver/version.info``.

Input that cannot be read raises :class:`NpuSmiParseError`, which carries the first line that
could not be read.
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type


class NpuSmiParseError(ValueError):
    """Raised when text does not have the expected shape.

    ``line`` is the first line that could not be read (``''`` for empty input) and ``lineno``
    its 1-based number (0 when the problem is the text as a whole).
    """

    def __init__(self, reason, line='', lineno=0):
        self.reason = reason
        self.line = line
        self.lineno = lineno
        if lineno:
            message = '%s (line %d: %r)' % (reason, lineno, line)
        else:
            message = '%s (%r)' % (reason, line)
        super(NpuSmiParseError, self).__init__(message)


# Cell values that mean "no value".
_EMPTY = ('', '-', '--', 'NA', 'N/A', 'na', 'n/a')

# Column names of the process table that contain spaces. A header cell is split on whitespace
# and these are put back together (longest first).
_MULTIWORD_COLUMNS = (
    ('process', 'id', 'in', 'container'),
    ('process', 'memory(mb)'),
    ('process', 'name'),
    ('process', 'id'),
)

_BORDER_RE = re.compile(r'^\+[-=+]*$')
_ELLIPSIS_RE = re.compile(r'^(\.{3,}|\u2026)$')
_SLASH_RE = re.compile(r'\s*/\s*')
_NO_PROCESS_RE = re.compile(r'^no running processes? found in npu\s+(\d+)$', re.IGNORECASE)
_VERSION_RE = re.compile(r'^npu-smi\s+(\S+)(?:\s+version:\s*(\S+))?', re.IGNORECASE)
_KV_COLON_RE = re.compile(r'^\s*([^:]*[^:\s])\s*:\s?(.*)$')


def _canonical_chip_column(name):
    """Map a header name of the device table to a result key (None: a column we do not keep)."""
    low = name.lower()
    if low == 'npu':
        return 'npu_id'
    if low == 'name':
        return 'name'
    if low == 'health':
        return 'health'
    if low.startswith('power'):
        return 'power_w'
    if low.startswith('temp'):
        return 'temp_c'
    if low.startswith('hugepages'):
        return 'hugepages'
    if low == 'chip':
        return 'chip_id'
    if low in ('phy-id', 'device', 'device-id', 'logic-id'):
        return 'device_id'
    if low.startswith('bus-id') or low == 'bus':
        return 'bus_id'
    if low.startswith('aicore'):
        return 'aicore_pct'
    if low.startswith('memory-usage'):
        return 'memory'
    if low.startswith('hbm-usage'):
        return 'hbm'
    return None


def _canonical_process_column(name):
    low = name.lower()
    if low == 'npu':
        return 'npu_id'
    if low == 'chip':
        return 'chip_id'
    if low == 'process id':
        return 'pid'
    if low == 'process name':
        return 'name'
    if low.startswith('process memory'):
        return 'memory_mb'
    return None


def _split_row(line):
    """Cells of a ``| a | b |`` row, each stripped."""
    inner = line.strip()[1:-1]
    return [cell.strip() for cell in inner.split('|')]


def _header_names(cell):
    """Column names in one header cell, e.g. ``'Power(W)    Temp(C)'`` -> two names."""
    words = cell.split()
    names = []
    index = 0
    while index < len(words):
        for group in _MULTIWORD_COLUMNS:
            size = len(group)
            if tuple(word.lower() for word in words[index:index + size]) == group:
                names.append(' '.join(words[index:index + size]))
                index += size
                break
        else:
            names.append(words[index])
            index += 1
    return names


def _cell_values(cell, keys):
    """Split a data cell into one value per column key.

    ``0    / 0`` and ``30711/ 32768`` are single values. A name column may hold spaces: surplus
    words are given to it. Missing trailing values are None.
    """
    tokens = _SLASH_RE.sub('/', cell).split()
    if len(tokens) > len(keys):
        if 'name' not in keys:
            return None
        at = keys.index('name')
        surplus = len(tokens) - len(keys)
        tokens = tokens[:at] + [' '.join(tokens[at:at + surplus + 1])] + tokens[at + surplus + 1:]
    values = list(tokens) + [None] * (len(keys) - len(tokens))
    return values


def _number(text, kind):
    """int or float from text; None for the 'no value' markers; ValueError otherwise."""
    if text is None or text in _EMPTY:
        return None
    if kind is int:
        return int(text)
    value = float(text)
    if kind == 'auto' and value.is_integer() and '.' not in text:
        return int(value)
    return value


def _pair(text):
    """``'3408/65536'`` -> (3408, 65536); values may be ``NA``."""
    if text is None or text in _EMPTY:
        return None, None
    if '/' not in text:
        raise ValueError('not a used/total pair: %r' % text)
    used, total = text.split('/', 1)
    return _number(used, int), _number(total, int)


def _new_chip():
    return {
        'npu_id': None, 'chip_id': None, 'device_id': None, 'name': None, 'health': None,
        'power_w': None, 'temp_c': None, 'aicore_pct': None,
        'hbm_used_mb': None, 'hbm_total_mb': None,
        'memory_used_mb': None, 'memory_total_mb': None, 'bus_id': None,
    }


def _fill(record, key, value):
    """Store one raw cell value under its result key, converted."""
    if key is None or key == 'hugepages':
        return
    if key in ('npu_id', 'chip_id', 'device_id'):
        record[key] = _number(value, int)
    elif key == 'power_w':
        record[key] = _number(value, float)
    elif key in ('temp_c', 'aicore_pct'):
        record[key] = _number(value, 'auto')
    elif key == 'memory':
        record['memory_used_mb'], record['memory_total_mb'] = _pair(value)
    elif key == 'hbm':
        record['hbm_used_mb'], record['hbm_total_mb'] = _pair(value)
    elif key in ('bus_id', 'name', 'health'):
        record[key] = None if value is None or value in _EMPTY else value
    elif key == 'pid':
        record[key] = _number(value, int)
    elif key == 'memory_mb':
        record[key] = _number(value, int)


def _read_row(cells, layout, record, line, lineno):
    """Fill record from the cells of one data row laid out as ``layout`` (keys per cell)."""
    if len(cells) != len(layout):
        raise NpuSmiParseError('row has %d cells where the header has %d' % (len(cells), len(layout)), line, lineno)
    for cell, keys in zip(cells, layout):
        values = _cell_values(cell, keys)
        if values is None:
            raise NpuSmiParseError('more values than columns in cell %r' % cell, line, lineno)
        for key, value in zip(keys, values):
            try:
                _fill(record, key, value)
            except ValueError:
                raise NpuSmiParseError('unreadable value %r' % value, line, lineno)


def parse_info(text):
    """Parse the output of ``npu-smi info``.

    Returns ``{npu_smi_version, count, chips: [...], processes: [...]}`` where each chip is
    ``{npu_id, chip_id, device_id, name, health, power_w, temp_c, aicore_pct, hbm_used_mb,
    hbm_total_mb, memory_used_mb, memory_total_mb, bus_id}`` and each process
    ``{npu_id, chip_id, pid, name, memory_mb}``; ``count`` is the number of chips.
    ``device_id`` is the ``Phy-ID`` / ``Device`` column of boards with two chips per NPU.
    Values a board does not print are None. Lines that are just ``...`` are skipped.
    """
    if text is None or not text.strip():
        raise NpuSmiParseError('empty npu-smi info output', '')
    result = {'npu_smi_version': None, 'count': 0, 'chips': [], 'processes': []}
    chip_layout = [None, None]      # keys per cell of the first and second line of a chip
    process_layout = None
    section = None                  # None, 'chips' or 'processes'
    pending = None                  # chip whose second line is still to come
    pending_at = (0, '')
    saw_header = False

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or _ELLIPSIS_RE.match(stripped):
            continue
        if _BORDER_RE.match(stripped):
            if pending is not None:
                raise NpuSmiParseError('chip entry has only one of its two lines', pending_at[1], pending_at[0])
            continue
        if not stripped.startswith('|'):
            raise NpuSmiParseError('not part of the npu-smi table', line, lineno)
        if len(stripped) < 2 or not stripped.endswith('|'):
            raise NpuSmiParseError('table row is cut off', line, lineno)
        cells = _split_row(stripped)
        first = cells[0]
        first_words = first.split()
        first_word = first_words[0].lower() if first_words else ''

        version = _VERSION_RE.match(first) if len(cells) == 1 else None
        if version:
            result['npu_smi_version'] = version.group(1)
            continue

        no_process = _NO_PROCESS_RE.match(first) if len(cells) == 1 else None
        if no_process:
            if section != 'processes':
                raise NpuSmiParseError('process row before the process table header', line, lineno)
            continue

        if any(cell.lower().startswith('process id') for cell in cells[1:]):
            if pending is not None:
                raise NpuSmiParseError('chip entry has only one of its two lines', pending_at[1], pending_at[0])
            process_layout = [[_canonical_process_column(name) for name in _header_names(cell)] for cell in cells]
            section = 'processes'
            continue

        if first_word == 'npu' and len(first_words) > 1 and first_words[1].lower() == 'name':
            if pending is not None:
                raise NpuSmiParseError('chip entry has only one of its two lines', pending_at[1], pending_at[0])
            chip_layout = [[[_canonical_chip_column(name) for name in _header_names(cell)] for cell in cells], None]
            section = 'header'
            continue

        if first_word == 'chip' and section == 'header':
            chip_layout[1] = [[_canonical_chip_column(name) for name in _header_names(cell)] for cell in cells]
            section = 'chips'
            saw_header = True
            continue

        if section == 'chips':
            if pending is None:
                pending = _new_chip()
                pending_at = (lineno, line)
                _read_row(cells, chip_layout[0], pending, line, lineno)
            else:
                _read_row(cells, chip_layout[1], pending, line, lineno)
                if pending['npu_id'] is None:
                    raise NpuSmiParseError('chip entry has no NPU id', pending_at[1], pending_at[0])
                result['chips'].append(pending)
                pending = None
            continue

        if section == 'processes':
            process = {'npu_id': None, 'chip_id': None, 'pid': None, 'name': None, 'memory_mb': None}
            _read_row(cells, process_layout, process, line, lineno)
            if process['npu_id'] is None or process['pid'] is None:
                raise NpuSmiParseError('process row without NPU or process id', line, lineno)
            result['processes'].append(process)
            continue

        raise NpuSmiParseError('row before the npu-smi table header', line, lineno)

    if pending is not None:
        raise NpuSmiParseError('chip entry has only one of its two lines', pending_at[1], pending_at[0])
    if not saw_header:
        first_line = next((raw for raw in text.splitlines() if raw.strip()), '')
        raise NpuSmiParseError('no npu-smi device table header found', first_line)
    result['count'] = len(result['chips'])
    return result


def _snake(key):
    return re.sub(r'[^0-9a-z]+', '_', key.lower()).strip('_')


def _colon_lines(text, what):
    """(lineno, line, key, value) for each non-blank ``key : value`` line."""
    if text is None or not text.strip():
        raise NpuSmiParseError('empty %s output' % what, '')
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or _ELLIPSIS_RE.match(line.strip()):
            continue
        match = _KV_COLON_RE.match(line)
        if not match:
            raise NpuSmiParseError('not a "key : value" line', line, lineno)
        value = match.group(2).strip()
        yield lineno, line, match.group(1).strip(), value


def _board_value(key, value, line, lineno):
    if value in _EMPTY:
        return None
    if key in ('npu_id', 'chip_id', 'chip_count', 'total_count'):
        try:
            return int(value)
        except ValueError:
            raise NpuSmiParseError('%s is not a number' % key, line, lineno)
    return value


def parse_list(text):
    """Parse ``npu-smi info -l``: ``{total_count, npus: [{npu_id, chip_count, ...}]}``.

    Keys of each NPU are the printed names in snake case (``Product Name`` -> ``product_name``).
    """
    result = {'total_count': None, 'npus': []}
    current = None
    for lineno, line, key, value in _colon_lines(text, 'npu-smi info -l'):
        name = _snake(key)
        converted = _board_value(name, value, line, lineno)
        if name == 'total_count':
            result['total_count'] = converted
        elif name == 'npu_id':
            current = {'npu_id': converted}
            result['npus'].append(current)
        elif current is None:
            raise NpuSmiParseError('value before the first NPU ID', line, lineno)
        else:
            current[name] = converted
    if result['total_count'] is None and not result['npus']:
        raise NpuSmiParseError('no Total Count and no NPU ID in npu-smi info -l output', text.strip().splitlines()[0])
    return result


def parse_board(text):
    """Parse ``npu-smi info -t board -i N``: a dict of snake-case keys.

    ``npu_id``, ``chip_id`` and ``chip_count`` are ints; ``NA`` is None. Keys that follow a
    ``Chip ID`` line (printed with ``-c``, or per chip on some boards) go to ``chips``.
    """
    board = {}
    target = board
    for lineno, line, key, value in _colon_lines(text, 'npu-smi info -t board'):
        name = _snake(key)
        converted = _board_value(name, value, line, lineno)
        if name == 'chip_id' and 'npu_id' in board:
            target = {'chip_id': converted}
            board.setdefault('chips', []).append(target)
            continue
        target[name] = converted
    if 'npu_id' not in board:
        raise NpuSmiParseError('no NPU ID in npu-smi info -t board output', text.strip().splitlines()[0])
    return board


def parse_key_value(text):
    """Parse ``key=value`` lines (``version.info``, ``ascend_toolkit_install.info``,
    ``/etc/ascend_install.info``) into a dict, keys as written. Blank and ``#`` lines are skipped.
    """
    values = {}
    if text is None:
        return values
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        key, sep, value = line.partition('=')
        key = key.strip()
        if not sep or not key or re.search(r'\s', key):
            raise NpuSmiParseError('not a key=value line', raw.rstrip(), lineno)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        values[key] = value
    return values
