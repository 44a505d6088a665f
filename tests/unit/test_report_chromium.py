"""report.html opened in headless Chromium from disk: every plot loads, the tables are there, the CSS applies.

Needs the Debian package `chromium`. Without it the test is skipped, except under CI (CI set), where
it fails: .ci/run must install chromium.
"""
import html
import json
import os
import re
import shutil
import struct
import subprocess

import pytest

from ansible_collections.npu.sglang.plugins.module_utils.bench_analysis import build_summary
from ansible_collections.npu.sglang.plugins.module_utils.bench_results import collect_inputs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BENCH = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'bench')

# Appended to a copy of the page only: the report itself carries no script.
PROBE = """
<script>
window.addEventListener('load', function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    return {width: img.naturalWidth, height: img.naturalHeight, complete: img.complete, alt: img.alt};
  });
  var out = document.createElement('pre');
  out.id = 'report-probe';
  out.textContent = JSON.stringify({
    images: images,
    tables: document.querySelectorAll('table').length,
    rows: document.querySelectorAll('tbody tr').length,
    failedCells: document.querySelectorAll('td.failed').length,
    missingCells: document.querySelectorAll('td.missing').length,
    headings: Array.prototype.map.call(document.querySelectorAll('h2, h3'), function (h) { return h.textContent; }),
    banner: (document.querySelector('.banner') || {}).textContent || null,
    bannerColor: document.querySelector('.banner') ? getComputedStyle(document.querySelector('.banner')).color : null
  });
  document.body.appendChild(out);
});
</script>
"""


def chromium_binary():
    for name in ('chromium', 'chromium-browser'):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get('CI'):
        pytest.fail('chromium is not installed: .ci/run must install the Debian package chromium for the report rendering test')
    pytest.skip('chromium is not installed (apt-get install chromium); report.html rendering not checked')
    return None


def chromium(binary, tmp_path, *args):
    profile = tmp_path / 'chromium-profile'
    profile.mkdir(exist_ok=True)
    command = [binary, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync',
               '--user-data-dir=%s' % profile] + list(args)
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240, check=False)
    assert proc.returncode == 0, 'chromium failed (rc=%d): %s' % (proc.returncode, proc.stderr[-3000:])
    return proc.stdout


def png_size(data):
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    return struct.unpack('>II', data[16:24])


@pytest.fixture(scope='module')
def report_dir(tmp_path_factory):
    pytest.importorskip('matplotlib')
    from ansible_collections.npu.sglang.plugins.module_utils.bench_report_render import render_files, write_files
    out = tmp_path_factory.mktemp('report')
    summary = build_summary(collect_inputs(BENCH), 'Chromium check', 1000.0, 50.0)
    files = render_files(summary)
    write_files(str(out), files)
    return out, files


def test_report_html_renders_with_every_plot_loaded(report_dir, tmp_path):
    binary = chromium_binary()
    out, files = report_dir
    page = files['report.html'].decode('utf-8')
    assert '<script' not in page and 'http://' not in page and 'https://' not in page
    probe = out / 'probe.html'
    probe.write_text(page.replace('</body>', PROBE + '</body>'), encoding='utf-8')
    dom = chromium(binary, tmp_path, '--run-all-compositor-stages-before-draw', '--virtual-time-budget=15000', '--dump-dom',
                   probe.as_uri())
    match = re.search(r'<pre id="report-probe">(.*?)</pre>', dom, re.S)
    assert match, 'the probe did not run; DOM tail: %s' % dom[-2000:]
    result = json.loads(html.unescape(match.group(1)))

    pngs = sorted(name for name in files if name.endswith('.png'))
    assert len(pngs) == 9
    assert len(result['images']) == len(pngs)
    expected = sorted(png_size(files[name]) for name in pngs)
    loaded = sorted((image['width'], image['height']) for image in result['images'])
    assert all(image['complete'] and image['width'] > 0 for image in result['images']), result['images']
    assert loaded == expected                      # each data URI decoded to its PNG's real size

    # knee, 3 hosts, cluster, 4 comparison tables, accuracy, commands
    assert result['tables'] == 11, result['tables']
    assert result['rows'] > 60
    assert result['failedCells'] > 0 and result['missingCells'] > 0
    for heading in ('Knee (best concurrency within the SLA)', 'Runs per host', 'node1', 'node2', 'samples', 'Cluster (sum over hosts)',
                    'SGLang vs vLLM', 'Fixed batch 32', 'Concurrency sweep 8 to 128', 'TTFT / TPOT / P99', 'Long generations',
                    'Accuracy', 'Plots', 'Skipped inputs'):
        assert heading in result['headings'], (heading, result['headings'])
    assert result['banner'].startswith('SIMULATED: runs on node1, node2')
    assert result['bannerColor'] == 'rgb(153, 0, 0)'   # the inline CSS applied


def test_report_html_screenshot_shows_the_page(report_dir, tmp_path):
    binary = chromium_binary()
    out, _files = report_dir
    shot = tmp_path / 'report.png'
    chromium(binary, tmp_path, '--window-size=1280,1600', '--hide-scrollbars', '--screenshot=%s' % shot, (out / 'report.html').as_uri())
    data = shot.read_bytes()
    assert png_size(data) == (1280, 1600)
    import matplotlib.image
    pixels = matplotlib.image.imread(str(shot))
    red = ((pixels[:, :, 0] > 0.7) & (pixels[:, :, 1] < 0.25) & (pixels[:, :, 2] < 0.25)).sum()
    assert red > 500, 'the red SIMULATED banner border is not on the screenshot'
    assert pixels[:, :, :3].std() > 0.05, 'the screenshot is blank'
