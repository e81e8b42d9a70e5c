"""`kriptik size`: the command's logic in-process, and twice end to end as a user runs it
(a real subprocess), offline from a config.json and online against the Hub fake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.conftest import new_master_key
from tests.services.kriptik import cli_env, kriptik
from tests.sizing.conftest import CONFIGS
from tools.simulator.huggingface import HfUser, HuggingFaceFake
from ui.cli import build_parser
from ui.cli.size import SizeOutcome, run_size
from vault import Settings, Vault, get_settings

LLAMA = str(CONFIGS / "Llama-3.1-8B.json")


def size(*args: str) -> SizeOutcome:
    return run_size(build_parser().parse_args(["size", *args]))


def test_offline_table_end_to_end(tmp_path: Path) -> None:
    result = kriptik("size", "--config", LLAMA, "--batch", "8", env=cli_env(tmp_path / "home"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Parameters   8.03 B" in out
    assert "4,096 tokens x batch 8, bf16" in out
    assert "KV cache" in out and "total" in out
    assert "fits on 48 GB (AMPERE_48)" in out
    assert "1,000 requests" in out


def test_json_has_the_documented_keys() -> None:
    outcome = size("--config", LLAMA, "--json", "--dtype", "bfloat16")
    assert (outcome.code, outcome.err) == (0, [])
    data = json.loads("\n".join(outcome.out))
    assert {"weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes",
            "total_bytes", "gpu", "assumptions"} <= set(data)  # fmt: skip
    parts = ("weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes")
    assert data["total_bytes"] == sum(data[k] for k in parts)
    assert data["gpu"]["fits"] is True and data["gpu"]["best"]["pool_id"]
    assert data["price"]["pool_id"] == data["gpu"]["best"]["pool_id"]
    assert "measurement" in data["assumptions"]
    assert data["kv_cache_bytes"] == 2 * 32 * 8 * 128 * 2 * 4096


def test_the_band_is_printed_and_the_gpu_is_chosen_on_its_upper_end() -> None:
    table = size("--config", LLAMA)
    [band_line] = [line for line in table.out if line.startswith("  expected peak")]
    data = json.loads("\n".join(size("--config", LLAMA, "--json").out))
    band = data["estimate"]["band"]
    assert band["low_bytes"] < data["total_bytes"] < band["high_bytes"]
    assert data["gpu"]["required_bytes"] == band["high_bytes"]
    high = f"{band['high_bytes'] / (1 << 30):.2f} GiB"
    assert f"{band['low_bytes'] / (1 << 30):.2f} to {high}; GPU chosen for {high}" in band_line


def test_params_size_a_config_we_cannot_read(tmp_path: Path) -> None:
    odd = tmp_path / "config.json"
    odd.write_text(json.dumps({"model_type": "mystery"}))
    outcome = size("--config", str(odd), "--params", "7000000000", "--json")
    assert outcome.code == 0
    assert json.loads(outcome.out[0])["weights_bytes"] == 14_000_000_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["org/x", "--config", LLAMA], "either REPO_ID or --config"),
        ([], "either REPO_ID or --config"),
        (["org/x", "--params", "5"], "--params only applies with --config"),
        (["--config", "/nonexistent/config.json"], "cannot read"),
        (["--config", LLAMA, "--context", "200000"],
         "context 200000 exceeds the model's maximum of 131072; use --context 131072 or less"),
        (["--config", LLAMA, "--batch", "0"], "batch must be at least 1"),
        (["--config", LLAMA, "--dtype", "fp7"], "unknown dtype 'fp7'"),
        (["--config", LLAMA, "--gpu-util", "1.5"], "gpu_memory_utilization"),
        (["--config", LLAMA, "--execution-seconds", "0"], "execution time must be above 0"),
        (["not a repo"], "is not a Hugging Face repo id"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_a_message(args: list[str], message: str) -> None:
    outcome = size(*args)
    assert outcome.code == 2 and outcome.out == []
    assert len(outcome.err) == 1 and message in outcome.err[0]


def test_malformed_and_non_json_configs(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    assert "is not valid JSON" in size("--config", str(tmp_path / "broken.json")).err[0]
    (tmp_path / "list.json").write_text("[1, 2]")
    assert "JSON object" in size("--config", str(tmp_path / "list.json")).err[0]
    (tmp_path / "empty.json").write_text(json.dumps({"model_type": "llama"}))
    outcome = size("--config", str(tmp_path / "empty.json"))
    assert outcome.code == 2 and "num_hidden_layers" in outcome.err[0]


def test_nothing_fits_exits_1() -> None:
    outcome = size("--config", LLAMA, "--context", "131072", "--batch", "64", "--max-gpus", "1")
    assert outcome.code == 1
    text = "\n".join(outcome.out)
    assert "does not fit" in text and "--context" in text
    assert "Price on" not in text


@pytest.fixture
def hub_env(
    hf_fake: tuple[HuggingFaceFake, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[HuggingFaceFake, str]]:
    fake, url = hf_fake
    fake.reset()
    monkeypatch.setenv("KRIPTIK_HUGGINGFACE_BASE_URL", url)
    get_settings.cache_clear()
    yield fake, url
    get_settings.cache_clear()


def test_repo_id_against_the_hub_fake(hub_env: tuple[HuggingFaceFake, str]) -> None:
    fake, _ = hub_env
    outcome = size("kriptik-test/tiny-llama", "--context", "2048", "--json")
    assert outcome.code == 0, outcome.err
    data = json.loads(outcome.out[0])
    assert data["model"]["repo_id"] == "kriptik-test/tiny-llama"
    assert (
        data["model"]["sources"]["parameters_by_dtype"] == "Hub safetensors metadata (model_info)"
    )
    assert data["gpu"]["best"]["pool_id"] == "AMPERE_16"
    gated = size("kriptik-test/gated-llama")
    assert gated.code == 2
    assert "is gated" in gated.err[0] and "/kriptik-test/gated-llama" in gated.err[0]
    fake.assert_clean()


def test_repo_id_end_to_end(hub_env: tuple[HuggingFaceFake, str], tmp_path: Path) -> None:
    _, url = hub_env
    env = cli_env(tmp_path / "home", KRIPTIK_HUGGINGFACE_BASE_URL=url)
    result = kriptik("size", "kriptik-test/sharded-llama", "--batch", "4", env=env)
    assert result.returncode == 0, result.stderr
    assert "Model        kriptik-test/sharded-llama  (transformers, text-generation, llama)" in (
        result.stdout
    )


def test_a_users_stored_key_reads_a_gated_repo(
    hub_env: tuple[HuggingFaceFake, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = hub_env
    token = "hf_aliceALICEaliceALICEaliceALICE0001"
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'kriptik.db'}",
        master_key=SecretStr(new_master_key()),
    )

    async def store_key() -> None:
        vault = await Vault.open(settings)
        user = await vault.users.create("alice", SecretStr("a long enough password"))
        await vault.credentials.add(user.id, "huggingface", SecretStr(token))
        await vault.close()

    asyncio.run(store_key())
    assert settings.master_key is not None
    monkeypatch.setenv("KRIPTIK_HOME", str(settings.home))
    monkeypatch.setenv("KRIPTIK_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("KRIPTIK_MASTER_KEY", settings.master_key.get_secret_value())
    get_settings.cache_clear()
    fake.add_token(token, HfUser(name="alice"))
    fake.grant("alice", "kriptik-test/gated-llama")

    assert size("kriptik-test/gated-llama").code == 2  # anonymous: still gated
    outcome = size("kriptik-test/gated-llama", "--user", "alice", "--json")
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out[0])["model"]["gated"] is True
    [call] = [
        c for c in fake.calls if c.path.endswith("/resolve/main/config.json") and c.status == 206
    ]
    assert call.headers["authorization"] == f"Bearer {token}"
    missing = size("kriptik-test/gated-llama", "--user", "bob")
    assert missing.code == 2 and "no user 'bob'" in missing.err[0]
