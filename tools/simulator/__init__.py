"""Loopback fakes of every provider KripTik talks to, for tests, demos and `kriptik fakes
serve` (a simulator: nothing here reaches, or stands for, a real account).

```
openrouter.OpenRouterFake   runpod.RunPodFake (REST v2)      github.GitHubFake (+ device flow)
huggingface.HuggingFaceFake runpod_jobs.RunPodJobsFake       vercel.VercelFake
  (repos: hf_repos.*)       aws_sts.AwsStsFake               netlify.NetlifyFake
```

Each fake is an ASGI app (`FakeProvider`): it keeps state, checks every request and every
answer against the provider's published description (`_contract`), and injects faults
per route: `fake.fail("POST /v2/serverless", 429, retry_after=3)`. `all.FakeStack` serves
them all on 127.0.0.1 (`server.serve` serves one); `clock.FakeClock` drives retries and
polling without real sleeps.
"""
