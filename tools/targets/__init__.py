"""Deploy targets beside RunPod serverless: Hugging Face Inference Endpoints, Google Cloud
Run with GPUs and Amazon SageMaker real-time endpoints, each behind one interface
(`base.DeployTarget`): its priced GPU catalog, an idempotent create keyed by the deployment
id, a wait until ready with progress, a smoke test, a teardown that leaves nothing, and its
running cost."""
