# -*- coding: utf-8 -*-
"""The one secret rule: validation, the benchmark and the doctor hide the same names."""

import pytest

from ansible_collections.npu.sglang.plugins.module_utils import bench_command, config_rules, doctor_rules
from ansible_collections.npu.sglang.plugins.module_utils.redaction import REDACTED, drop, is_secret_name, mask

SECRETS = ["api_key", "admin_api_key", "sglang_service_api_key", "SGLANG_API_KEY", "api-key", "hf_token", "HF_TOKEN",
           "sglang_build_registry_password", "npu_sglang_awx_scm_credential", "client_secret"]
SETTINGS = ["tokenizer_path", "sglang_bench_tokenizer", "max_total_tokens", "sglang_service_max_total_tokens",
            "sglang_bench_tiktoken_url", "page_size", "kv_cache_dtype", "ASCEND_P2P_ENABLE", "keep_alive", None]


@pytest.mark.parametrize("name", SECRETS)
def test_secret_names_are_hidden_everywhere(name, monkeypatch):
    assert is_secret_name(name)
    assert config_rules.Problem(name, "v4lue", "r", "f").value == REDACTED
    assert bench_command.redact({name: "v4lue", "tp_size": 2}) == {"tp_size": 2}
    monkeypatch.setattr(doctor_rules, "ENV_KEYS", (name, "ASCEND_P2P_ENABLE"))
    assert doctor_rules.pick_env({name: "v4lue", "ASCEND_P2P_ENABLE": "1"}) == {name: REDACTED, "ASCEND_P2P_ENABLE": "1"}


@pytest.mark.parametrize("name", SETTINGS)
def test_settings_that_mention_tokens_or_keys_stay_visible(name):
    assert not is_secret_name(name)
    assert config_rules.Problem(name, "v4lue", "r", "f").value == "v4lue"
    assert bench_command.redact({name: "v4lue"}) == {name: "v4lue"}


def test_mask_keeps_the_shape_and_drop_removes_the_key_at_any_depth():
    value = [{"name": "a", "api_key": "k", "env": {"HF_TOKEN": "t", "X": "1"}}, ("hf_token", "x")]
    assert mask("instances", value) == [{"name": "a", "api_key": REDACTED, "env": {"HF_TOKEN": REDACTED, "X": "1"}},
                                        ["hf_token", "x"]]
    assert drop(value) == [{"name": "a", "env": {"X": "1"}}, ["hf_token", "x"]]
    assert mask("api_key", "") == "" and mask("api_key", None) is None
