"""Deploy targets beside RunPod serverless: Hugging Face Inference Endpoints and Google
Cloud Run with GPUs, each behind one interface (`base.DeployTarget`): its priced GPU
catalog, an idempotent create keyed by the deployment id, a wait until ready with
progress, a smoke test, a teardown that leaves nothing, and its running cost."""
