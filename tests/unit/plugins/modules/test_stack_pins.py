"""The pin checks of a stack profile, run for real: npu.sglang.git_refs against git repositories made
here (as the sim's mirrors are), npu.sglang.pip_pins against the package index this machine is
configured with, and every shipped profile's pins against that index."""
import os
import subprocess

import pytest
import yaml

from adhoc import ROOT, run_module

from ansible_collections.npu.sglang.plugins.module_utils import stack_rules
from ansible_collections.npu.sglang.plugins.modules.git_refs import match_ref, parse_ls_remote
from ansible_collections.npu.sglang.plugins.modules.pip_pins import parse_versions

STACKS = os.path.join(ROOT, 'roles', 'npu_stack', 'vars', 'stacks')


def profiles():
    return dict((name[:-4], yaml.safe_load(open(os.path.join(STACKS, name), encoding='utf-8'))['npu_stack_profile_data'])
                for name in sorted(os.listdir(STACKS)) if name.endswith('.yml'))


def git(*args, cwd=None):
    env = dict(os.environ, GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@t', GIT_COMMITTER_NAME='t',
               GIT_COMMITTER_EMAIL='t@t')
    return subprocess.run(['git'] + list(args), cwd=cwd, env=env, check=True, text=True,
                          stdout=subprocess.PIPE).stdout.strip()


@pytest.fixture(scope='module')
def mirror(tmp_path_factory):
    """A bare repository with a branch, a tag and an older commit no ref points at."""
    work = tmp_path_factory.mktemp('src')
    git('init', '-q', '-b', 'main', str(work))
    (work / 'a').write_text('1')
    git('add', 'a', cwd=work)
    git('commit', '-q', '-m', 'one', cwd=work)
    old = git('rev-parse', 'HEAD', cwd=work)
    (work / 'a').write_text('2')
    git('commit', '-q', '-am', 'two', cwd=work)
    git('tag', '-a', '-m', 'release', 'v0.4.9', cwd=work)
    bare = tmp_path_factory.mktemp('mirror') / 'sglang.git'
    git('clone', '-q', '--bare', str(work), str(bare))
    return {'path': str(bare), 'head': git('rev-parse', 'HEAD', cwd=work), 'old': old}


def test_ls_remote_output_is_read_with_peeled_tags():
    refs = parse_ls_remote('aaa\tHEAD\nbbb\trefs/heads/main\nccc\trefs/tags/v1\nddd\trefs/tags/v1^{}\n')
    assert refs == {'HEAD': 'aaa', 'refs/heads/main': 'bbb', 'refs/tags/v1': 'ddd'}
    assert match_ref(refs, 'v1') == ('ddd', 'tag')
    assert match_ref(refs, 'main') == ('bbb', 'branch')
    assert match_ref(refs, 'v2') == (None, None)


def test_refs_are_found_or_refused_as_the_repository_says(tmp_path, mirror):
    result = run_module(tmp_path, 'npu.sglang.git_refs', {'sources': [
        {'name': 'sglang', 'repo': mirror['path'], 'ref': 'v0.4.9'},
        {'name': 'vllm', 'repo': mirror['path'], 'ref': 'main'},
        {'name': 'short', 'repo': mirror['path'], 'ref': mirror['head'][:10]},
        {'name': 'branch', 'repo': mirror['path'], 'ref': 'ascend_attention_backend'},
        # A plain mirror serves only the commits its refs point at, as upstream serves only its own.
        {'name': 'forged', 'repo': mirror['path'], 'ref': '1e0e549766a0b13164283d759120200d73d71858'},
        {'name': 'gone', 'repo': str(tmp_path / 'no-such-repo.git'), 'ref': 'main'},
    ]})
    assert result['changed'] is False
    found = dict((s['name'], (s['found'], s['commit'], s['how'])) for s in result['sources'])
    assert found['sglang'] == (True, mirror['head'], 'tag')
    assert found['vllm'] == (True, mirror['head'], 'branch')
    assert found['short'] == (True, mirror['head'], 'commit')
    assert [m['name'] for m in result['missing']] == ['branch', 'forged', 'gone']
    messages = dict((m['name'], m['message']) for m in result['missing'])
    assert messages['branch'].startswith('git ref branch_ref = ascend_attention_backend is not in %s' % mirror['path'])
    assert 'npu_stack_overrides branch_ref' in messages['branch']
    assert 'no such commit' in messages['forged']
    assert 'did not answer' in messages['gone']


def test_pip_index_output_is_read():
    out = 'torch-npu (2.14.0)\nAvailable versions: 2.14.0, 2.6.0.post3, 2.6.0\n  INSTALLED: none\n'
    assert parse_versions(out) == ['2.14.0', '2.6.0.post3', '2.6.0']
    assert parse_versions('ERROR: No matching distribution found for x\n') == []


def test_an_unpublished_pin_is_refused_naming_what_the_index_has(tmp_path):
    result = run_module(tmp_path, 'npu.sglang.pip_pins', {
        'packages': [{'key': 'torch_npu', 'name': 'torch-npu', 'version': '2.6.0.post1'},
                     {'key': 'torch', 'name': 'torch', 'version': '2.6.0'},
                     {'key': 'sgl', 'name': 'sgl-kernel-npu', 'version': '2025.11.27'}],
        'python_version': '3.11', 'architecture': 'aarch64'})
    by_key = dict((p['key'], p) for p in result['packages'])
    assert by_key['torch']['found'] is True
    assert by_key['torch_npu']['found'] is False
    # The same release's published versions, which the fix can choose from.
    assert {'2.6.0', '2.6.0.post3', '2.6.0.post5'} <= set(by_key['torch_npu']['available'])
    assert '2.6.0.post1' not in by_key['torch_npu']['available']
    assert [m['key'] for m in result['missing']] == ['torch_npu', 'sgl']
    assert 'npu_stack_overrides torch_npu' in by_key['torch_npu']['message']
    assert by_key['sgl']['available'] == [] and by_key['sgl']['error']


@pytest.mark.parametrize('name', sorted(profiles()))
def test_every_shipped_profile_pins_published_packages(tmp_path, name):
    """Real upstream is the truth: each profile's pins are on the index for each architecture it claims."""
    stack = profiles()[name]
    assert set(stack['architectures']) <= {'aarch64', 'x86_64'}
    for arch in stack['architectures']:
        result = run_module(tmp_path, 'npu.sglang.pip_pins', {
            'packages': stack_rules.pins(stack), 'python_version': stack['python'], 'architecture': arch})
        assert result['missing'] == [], '%s on %s: %s' % (name, arch, [m['message'] for m in result['missing']])
        assert len(result['packages']) == 5


@pytest.mark.parametrize('name', sorted(profiles()))
def test_every_shipped_profile_keeps_the_matrix(name):
    stack = profiles()[name]
    assert stack_rules.profile_problems(stack) == []
    # Every source has its repository and ref, and every build step a name, a directory and a script.
    for source in stack_rules.sources(stack):
        assert source['repo'].startswith('https://') and source['ref']
    assert stack['build_steps'] and all(set(step) == {'name', 'dir', 'env', 'run'} for step in stack['build_steps'])


def test_the_matrix_refuses_triton_ascend_of_another_cann():
    problems = stack_rules.profile_problems({'torch': '2.6.0', 'torch_npu': '2.6.0.post3', 'cann': '8.2.RC1',
                                             'triton_ascend': '3.2.0'})
    assert problems == [({'triton_ascend': '3.2.0', 'cann': '8.2.RC1'},
                         'triton-ascend 3.2.0 is built for CANN 8.5, not CANN 8.2.RC1',
                         'use the triton-ascend of CANN 8.2 (3.2.0rc2)')]
    assert stack_rules.profile_problems({'torch': '2.8.0', 'torch_npu': '2.6.0'})[0][1].startswith('torch and torch_npu')


def test_a_container_is_held_to_the_profile():
    stack = {'name': 'seed', 'python': '3.11', 'cann': '8.2.RC1', 'base_image': 'b', 'torch': '2.6.0',
             'torchvision': '0.21.0', 'torch_npu': '2.6.0', 'triton_ascend': '3.2.0rc2', 'pybind11': '2.13.6'}
    ok = {'python': '3.11', 'cann': '8.2.RC1', 'torch': '2.6.0+cpu', 'torch_npu': '2.6.0'}
    assert stack_rules.container_problems(stack, ok, 'The image', 'c') == []
    problems = stack_rules.container_problems(stack, dict(ok, cann='8.1.RC1', python='3.10'), 'The image', 'c')
    assert len(problems) == 2 and 'CANN 8.1.RC1' in problems[1] and 'Python 3.10' in problems[0]
    installed = {'torch': '2.7.1', 'torchvision': '0.21.0', 'torch_npu': '2.6.0', 'triton_ascend': '3.2.0rc2',
                 'pybind11': None}
    assert stack_rules.moved_packages(stack, installed) == [('pybind11', 'pybind11', '2.13.6', None),
                                                            ('torch', 'torch', '2.6.0', '2.7.1')]
    assert stack_rules.moved_packages(stack, dict(installed, torch='2.6.0+cpu', pybind11='2.13.6')) == []
