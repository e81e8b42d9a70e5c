"""Loopback fakes of every provider KripTik talks to, for tests, demos and `kriptik fakes
serve` (a simulator: nothing here reaches, or stands for, a real account).

```
openrouter.OpenRouterFake   runpod.RunPodFake (REST v2)      github.GitHubFake (+ OAuth)
huggingface.HuggingFaceFake runpod_jobs.RunPodJobsFake       vercel.VercelFake
  (repos: hf_repos.*)       aws.AwsFake (STS, IAM, SageMaker, netlify.NetlifyFake
                              ECR, Service Quotas, Pricing; checked against botocore's models)
hf_endpoints.HfEndpointsFake (Inference Endpoints; the Hub fake's tokens)
gcp_oauth.GoogleOAuthFake   cloudrun.CloudRunFake (Admin v2) artifact_registry.ArtifactRegistryFake
  (GcpState: accounts and tokens the three share)
```

Each fake is an ASGI app (`FakeProvider`): it keeps state, checks every request and every
answer against the provider's published description (`_contract`), and injects faults
per route: `fake.fail("POST /v2/serverless", 429, retry_after=3)`. The GitHub, Vercel,
Netlify and OpenRouter fakes also serve their providers' OAuth flows (`github_device_oauth`,
`github_app_oauth`, `vercel_oauth`, `netlify_oauth`, `openrouter_oauth`, over `_oauth`'s
authorization server, whose knobs are `fake.oauth`); `FakeStack.oauth_settings_fields()`
registers their apps. `all.FakeStack` serves them all on 127.0.0.1 (`server.serve` serves
one); `clock.FakeClock` drives retries and polling without real sleeps.

`kriptik demo` runs `demo.DemoStack`: the whole stack, the demo Hub's real models
(`demo_models.demo_repos`), and a simulated chat model (`llm.LlmFake` answered by
`assistant.answer`, which reads the tool results it gets back and follows the product's
own flow).
"""
