// Generic worker: edit the job's JSON input, run it, read the JSON output (and see any
// images, videos or models it contains).
import { config, el, toast, submitJob, waitJob, findMedia, seconds, showHealth } from "./common.js";

const form = document.getElementById("form");
const input = document.getElementById("input");
const state = document.getElementById("json-state");
const output = document.getElementById("output");
const status = document.getElementById("status");
const media = document.getElementById("media");
const copy = document.getElementById("copy");
const run = document.getElementById("run");

input.value = JSON.stringify(config.exampleInput, null, 2);

function parse() {
  try {
    const value = JSON.parse(input.value);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("The input must be a JSON object.");
    state.textContent = "valid JSON";
    state.dataset.ok = "true";
    return value;
  } catch (err) {
    state.textContent = err.message.replace(/^JSON\.parse: /, "");
    state.dataset.ok = "false";
    return null;
  }
}

const LABELS = { IN_QUEUE: "Queued", IN_PROGRESS: "Running", COMPLETED: "Completed", FAILED: "Failed", CANCELLED: "Cancelled", TIMED_OUT: "Timed out" };

function setStatus(value, label = LABELS[value] || value) {
  status.dataset.status = value;
  status.textContent = label;
}

input.addEventListener("input", parse);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = parse();
  if (!value) return;
  run.disabled = true;
  copy.disabled = true;
  media.replaceChildren();
  output.textContent = "…";
  const started = Date.now();
  try {
    const job = await submitJob(value);
    setStatus("IN_QUEUE");
    const done = await waitJob(job.id, { onUpdate: (j) => setStatus(j.status) });
    setStatus(done.status, `${LABELS[done.status] || done.status} · ${seconds(Date.now() - started)}`);
    output.textContent = JSON.stringify(done.status === "COMPLETED" ? done.output : { error: done.error ?? null }, null, 2);
    copy.disabled = false;
    for (const item of findMedia(done.output)) {
      if (item.kind === "image") media.append(el("img", { src: item.src, alt: "Output image" }));
      if (item.kind === "video") media.append(el("video", { src: item.src, controls: true }));
      if (item.kind === "model") media.append(el("a", { href: item.src, download: "model.glb", class: "button ghost" }, "Download 3D model"));
    }
  } catch (err) {
    setStatus("FAILED", "Failed");
    output.textContent = err.message;
    toast(err.message);
  } finally {
    run.disabled = false;
  }
});
copy.addEventListener("click", async () => {
  await navigator.clipboard.writeText(output.textContent);
  toast("Copied.", "info");
});
parse();
showHealth();
