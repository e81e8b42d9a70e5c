"""validate_key for every provider, against the fakes through `Settings` base URLs."""

from __future__ import annotations

import json

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import RateLimited, Upstream
from tools.clients.validate import PROVIDERS, KeyCheck, validate_key
from tools.simulator import aws_sts as stsf
from tools.simulator import github as ghf
from tools.simulator import huggingface as hff
from tools.simulator import netlify as nff
from tools.simulator import openrouter as orf
from tools.simulator import runpod as rpf
from tools.simulator import vercel as vcf
from tools.simulator.all import FakeStack
from vault.settings import Settings


async def _check(
    provider: str, secret: str, settings: Settings, http: httpx.AsyncClient, retry: Retry
) -> KeyCheck:
    return await validate_key(
        provider, SecretStr(secret), settings=settings, http=http, retry=retry
    )


@pytest.mark.parametrize(
    ("provider", "key", "identity", "scopes", "message"),
    [
        ("openrouter", orf.DEFAULT_KEY, "sk-or-v1-fak...000", [], "OpenRouter key validated ($20.50 of $25.00 left)."),
        ("huggingface", hff.DEFAULT_TOKEN, "kriptik-tester", ["write"],
         "Hugging Face token validated for kriptik-tester (role: write)."),
        ("runpod", rpf.DEFAULT_KEY, None, [],
         "RunPod key validated: it can read your serverless endpoints (0). Write access is confirmed by the first "
         "deployment."),
        ("github", ghf.DEFAULT_TOKEN, "octo-tester", ["repo", "workflow"],
         "GitHub token validated for octo-tester (scopes: repo, workflow)."),
        ("vercel", vcf.DEFAULT_TOKEN, "kriptik-dev", [], "Vercel token validated for kriptik-dev."),
        ("netlify", nff.DEFAULT_TOKEN, "dev@example.com", [], "Netlify token validated for dev@example.com."),
    ],
)  # fmt: skip
async def test_a_good_key_validates(
    fake_settings: Settings, http: httpx.AsyncClient, retry: Retry,
    provider: str, key: str, identity: str | None, scopes: list[str], message: str,
) -> None:  # fmt: skip
    check = await _check(provider, key, fake_settings, http, retry)
    assert (check.ok, check.identity, check.scopes, check.message) == (
        True,
        identity,
        scopes,
        message,
    )


async def test_limits_are_reported(
    fake_settings: Settings, http: httpx.AsyncClient, retry: Retry
) -> None:
    check = await _check("openrouter", orf.DEFAULT_KEY, fake_settings, http, retry)
    assert check.limits == {"limit": 25.0, "limit_remaining": 20.5, "usage": 4.5}


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("openrouter", "OpenRouter rejected the key (401). Create a new one at https://openrouter.ai/settings/keys, "
                       "then paste it here."),
        ("huggingface", "Hugging Face rejected the key (401). Create a new one at https://huggingface.co/settings/tokens, "
                        "then paste it here."),
        ("runpod", "RunPod rejected the key (401). Create a new one at https://www.runpod.io/console/user/settings, "
                   "then paste it here."),
        ("github", "GitHub rejected the key (401). Create a new one at "
                   "https://github.com/settings/tokens/new?scopes=repo,workflow, then paste it here."),
        ("vercel", "Vercel rejected the key (403). Create a new one at https://vercel.com/account/settings/tokens, "
                   "then paste it here."),
        ("netlify", "Netlify rejected the key (401). Create a new one at "
                    "https://app.netlify.com/user/applications#personal-access-tokens, then paste it here."),
    ],
)  # fmt: skip
async def test_a_rejected_key_is_not_ok_and_says_what_to_do(
    fake_settings: Settings, http: httpx.AsyncClient, retry: Retry, provider: str, message: str
) -> None:
    check = await _check(provider, "PLANTED-wrong-key-0123456789", fake_settings, http, retry)
    assert (check.ok, check.message) == (False, message)
    assert "PLANTED" not in check.model_dump_json()


async def test_insufficient_keys_are_not_ok(
    fakes: FakeStack, fake_settings: Settings, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.openrouter.add_key("sk-or-v1-spent", orf.OpenRouterAccount(limit=5.0, usage=5.0))
    spent = await _check("openrouter", "sk-or-v1-spent", fake_settings, http, retry)
    assert not spent.ok and "credit limit is used up" in spent.message
    no_repo = await _check("github", ghf.NO_REPO_SCOPE_TOKEN, fake_settings, http, retry)
    assert not no_repo.ok and no_repo.scopes == ["read:user", "gist"]
    assert "lacks the `repo` scope" in no_repo.message
    fine = await _check("github", ghf.FINE_GRAINED_TOKEN, fake_settings, http, retry)
    assert fine.ok and "fine-grained" in fine.message


@pytest.mark.parametrize(("status", "cls"), [(503, Upstream), (429, RateLimited)])
async def test_no_answer_raises_instead_of_judging_the_key(
    fakes: FakeStack,
    fake_settings: Settings,
    http: httpx.AsyncClient,
    retry: Retry,
    status: int,
    cls: type[Exception],
) -> None:
    fakes.runpod.fail("GET /v2/serverless", status, times=None)
    with pytest.raises(cls, match="try again"):
        await _check("runpod", rpf.DEFAULT_KEY, fake_settings, http, retry)


async def test_a_planted_secret_never_leaves_the_check(
    fakes: FakeStack,
    fake_settings: Settings,
    http: httpx.AsyncClient,
    retry: Retry,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    planted = "hf_PLANTEDvalidationSECRET000000000"
    fakes.huggingface.add_token(planted)
    ok = await _check("huggingface", planted, fake_settings, http, retry)
    fakes.huggingface.fail("GET /api/whoami-v2", 500, times=None, message=planted)
    with pytest.raises(Upstream) as caught:
        await _check("huggingface", planted, fake_settings, http, retry)
    assert planted not in " ".join(
        [ok.model_dump_json(), str(caught.value), repr(caught.value), all_logs.text]
    )


def _aws(**kw: str) -> str:
    return json.dumps({"access_key_id": "AKIAIOSFODNN7EXAMPLE",
                       "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "region": "us-east-1"} | kw)  # fmt: skip


def _gcp(key_pem: str, **kw: str) -> str:
    return json.dumps({"type": "service_account", "project_id": "kt", "private_key_id": "1", "private_key": key_pem,
                       "client_email": "deployer@kt.iam.gserviceaccount.com", "client_id": "2",
                       "token_uri": "https://oauth2.googleapis.com/token"} | kw)  # fmt: skip


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


async def test_structured_secrets_get_a_local_check(
    fake_settings: Settings, http: httpx.AsyncClient, retry: Retry
) -> None:
    assert not (await _check("aws", "not json", fake_settings, http, retry)).ok
    assert not (await _check("aws", _aws(access_key_id="XYZ"), fake_settings, http, retry)).ok
    assert not (await _check("aws", _aws(region="mars"), fake_settings, http, retry)).ok
    assert not (
        await _check("aws", _aws(access_key_id="ASIAIOSFODNN7EXAMPLE"), fake_settings, http, retry)
    ).ok
    rsa_pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    sa = await _check("gcp", _gcp(rsa_pem), fake_settings, http, retry)
    assert (sa.ok, sa.identity) == (True, "deployer@kt.iam.gserviceaccount.com")
    assert "BEGIN PRIVATE KEY" not in sa.model_dump_json()
    ec_pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    assert not (await _check("gcp", _gcp(ec_pem), fake_settings, http, retry)).ok
    assert not (await _check("gcp", _gcp("garbage"), fake_settings, http, retry)).ok
    assert not (
        await _check("gcp", _gcp(rsa_pem, client_email="me@gmail.com"), fake_settings, http, retry)
    ).ok
    assert not (
        await _check("gcp", json.dumps({"type": "authorized_user"}), fake_settings, http, retry)
    ).ok


async def test_unknown_provider(fake_settings: Settings, http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="unknown provider 'heroku'"):
        await validate_key("heroku", SecretStr("x"), settings=fake_settings, http=http)
    assert set(PROVIDERS) == {
        "openrouter",
        "huggingface",
        "runpod",
        "github",
        "vercel",
        "netlify",
        "aws",
        "gcp",
    }


async def test_aws_keys_are_checked_with_a_signed_sts_call(
    fakes: FakeStack,
    fake_settings: Settings,
    http: httpx.AsyncClient,
    retry: Retry,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    good = _aws(access_key_id=stsf.ACCESS_KEY_ID, secret_access_key=stsf.SECRET_ACCESS_KEY)
    check = await _check("aws", good, fake_settings, http, retry)
    assert (check.ok, check.identity, check.limits) == (
        True, "arn:aws:iam::123456789012:user/kriptik-deployer", {"account": "123456789012"},
    )  # fmt: skip
    assert (
        check.message
        == "AWS credentials validated for arn:aws:iam::123456789012:user/kriptik-deployer."
    )
    wrong_secret = _aws(access_key_id=stsf.ACCESS_KEY_ID, secret_access_key="x" * 40)
    rejected = await _check("aws", wrong_secret, fake_settings, http, retry)
    assert (rejected.ok, rejected.message) == (False, (
        "AWS rejected the access key (SignatureDoesNotMatch). Create a new access key at "
        "https://console.aws.amazon.com/iam/home#/security_credentials, then paste it here."
    ))  # fmt: skip
    unknown = await _check("aws", _aws(), fake_settings, http, retry)
    assert not unknown.ok and "InvalidClientTokenId" in unknown.message
    fakes.aws_sts.accounts["ASIAKRIPTIKFAKE00002"] = stsf.AwsAccount(
        stsf.SECRET_ACCESS_KEY, session_token="tok-1"
    )
    temporary = _aws(
        access_key_id="ASIAKRIPTIKFAKE00002",
        secret_access_key=stsf.SECRET_ACCESS_KEY,
        session_token="tok-1",
    )
    assert (await _check("aws", temporary, fake_settings, http, retry)).ok
    assert (
        stsf.SECRET_ACCESS_KEY
        not in all_logs.text + check.model_dump_json() + rejected.model_dump_json()
    )
