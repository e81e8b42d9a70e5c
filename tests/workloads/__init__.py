"""Workload tests: each generated worker runs on the real libraries it pins, with a tiny
random-weight model, through the runpod SDK's local test mode (`--test_input`) or its local
API (`--rp_serve_api`, one process for many jobs).

Set-up (outside the tests, once; `.ci/run` calls it): `scripts/install-workload-env.sh`
installs ONE venv with the generated workers' pinned requirements
(every family and task: `env.requirement_lines()`) under
`~/.cache/kriptik/workloads/<hash of the pins>`. Tests never install anything: when the
venv for the current pins is missing they skip, naming that script (and fail instead
under KRIPTIK_REQUIRE_SERVICES=1, as in CI).

The API (import from the modules named):
- `tests.workloads.env.worker_plan(library, task)`: a `WorkerPlan` made by `plan_worker`
  as a deployment makes it (dtype fp32), e.g. `worker_plan("diffusers", "text-to-image")`,
  `worker_plan("transformers", "text-generation")` (no architecture vLLM serves, so the
  transformers path is chosen).
- `tests.workloads.harness.run_worker(plan_or_files, model_dir, job_input, scratch, *,
  timeout=300, env=None) -> JobResult`: renders the worker (`render_worker(plan,
  secret=False)`, or takes `WorkerFiles` you changed) into `scratch/worker`, and runs
  `python -u handler.py --test_input '{"input": job_input}'` with the venv's python,
  MODEL_DIR=model_dir, HF_HUB_OFFLINE=1, HOME and HF_HOME under `scratch`. `JobResult`
  has `output` (what the handler returned: the job's `output` as RunPod stores it, or
  None), `error` (the handler's `{"error": ...}` message, or None), `log` (stdout and
  stderr) and `returncode` (the SDK exits 1 on an error).
- `tests.workloads.harness.serve_worker(plan_or_files, model_dir, scratch, *, timeout=300,
  env=None)`: a context manager that renders the worker as `run_worker` does, into
  `scratch/worker`, and serves it with the SDK's local API (`python -u handler.py
  --rp_serve_api`) on 127.0.0.1 and a free port, in the same environment; it yields the
  base URL (`http://127.0.0.1:PORT`) once the API answers (polled, no fixed wait), fails
  with the log (`scratch/worker.log`) if the worker exits first, and stops the worker on
  exit, failure included. One served worker takes many jobs: share it with a
  module-scoped fixture (e.g. every bad-input case of a module) rather than starting a
  process, importing torch and loading the model per job.
- `tests.workloads.harness.runsync(base_url, job_input, *, timeout=300) -> JobResult`: POSTs
  `{"input": job_input}` to `/runsync`; `output`/`error` as `run_worker` gives them (and
  whole: the `--test_input` log holds at most 4096 characters of a result), `log` what the
  worker logged during this job, `returncode` 1 for a FAILED job, else 0. The API accepts
  only a JSON object as input: a job whose input is a string goes through `run_worker`.
  Keep at least one success job per workload kind on `run_worker`: that is the test of the
  SDK's `--test_input` smoke-test mode the image runs.
- `tests.workloads.harness.require_python()`: the venv's python (skip/fail if missing),
  for running a script of your own in that venv (e.g. building a model).
- `tests.workloads.models.build_model(kind, directory, **options) -> dict`: a tiny
  random-weight transformers model saved with `save_pretrained` into `directory` by the
  venv's python: "causal-lm", "bert" (option `hidden`), "bert-classifier", "whisper".
  Returns facts such as `hidden_size`. Diffusers builders live with their tests.
"""
