// A ComfyUI workflow: one field per exposed input, one job per Generate, then every image
// or video the workflow saved, each with a download link.
//
// The job output is the ComfyUI worker's: {"images": [{"filename", "node_id", "mime",
// "type": "base64" | "url", "data"}], "prompt_id"}, or {"error"}. Labels, file names and
// errors come from the user's workflow and the worker: they are inserted as text only.
import { config, el, toast, submitJob, waitJob, findMedia, seconds, showHealth, STATUS_TEXT } from "./common.js";

const $ = (id) => document.getElementById(id);
const form = $("form");
const generate = $("generate");
const outputs = $("outputs");
const statusLine = $("status-line");
const count = $("count");
const MAX_IMAGE_BYTES = 3 * 1024 * 1024; // Base64 grows it by a third; the server takes 4 MB.
const ORDER = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"];
const FIELDS = config.fields || [];
const chosen = new Map(); // image field name -> the data URI of the file the user picked
const MIME = /^(image|video)\/[a-z0-9.+-]{1,40}$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function pickImage(field) {
  const input = $(`field-${field.name}`);
  const preview = $(`preview-${field.name}`);
  const text = $(`drop-text-${field.name}`);
  input.addEventListener("change", () => {
    const file = input.files[0];
    chosen.delete(field.name);
    preview.hidden = true;
    text.hidden = false;
    if (!file) return;
    if (file.size > MAX_IMAGE_BYTES) {
      toast(`${field.label}: that image is larger than 3 MB; choose a smaller one.`);
      input.value = "";
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      chosen.set(field.name, reader.result);
      preview.src = reader.result;
      preview.hidden = false;
      text.hidden = true;
    };
    reader.readAsDataURL(file);
  });
}

/** A uniform random integer within the seed's limits (at most 2^53 - 1, what JSON keeps exact). */
function randomSeed(field) {
  const low = Math.max(0, Math.ceil(field.minimum ?? 0));
  const high = Math.min(Math.floor(field.maximum ?? 2 ** 32 - 1), Number.MAX_SAFE_INTEGER);
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  const unit = (a * 2 ** 21 + (b >>> 11)) / 2 ** 53; // 53 random bits in [0, 1)
  return low + Math.floor(unit * (high - low + 1));
}

/** A number field's value, checked; undefined when empty (the workflow keeps its own). */
function numberValue(field) {
  const raw = $(`field-${field.name}`).value.trim();
  if (raw === "") return undefined;
  const value = Number(raw);
  const whole = field.kind === "integer";
  if (!Number.isFinite(value) || (whole && !Number.isInteger(value))) {
    throw new Error(`${field.label} must be ${whole ? "a whole number" : "a number"}.`);
  }
  if (field.minimum !== null && value < field.minimum) throw new Error(`${field.label} must be at least ${field.minimum}.`);
  if (field.maximum !== null && value > field.maximum) throw new Error(`${field.label} must be at most ${field.maximum}.`);
  return value;
}

/** The job input: one key per field; an empty number or no chosen image is left out. */
function jobInput() {
  const input = {};
  for (const field of FIELDS) {
    let value;
    if (field.kind === "text") value = $(`field-${field.name}`).value;
    else if (field.kind === "image") value = chosen.get(field.name);
    else value = numberValue(field);
    if (value !== undefined) input[field.name] = value;
  }
  return input;
}

function showStep(status, started) {
  const at = ORDER.indexOf(status);
  const failed = status === "FAILED" || status === "CANCELLED" || status === "TIMED_OUT";
  for (const item of document.querySelectorAll("#steps li")) {
    const index = ORDER.indexOf(item.dataset.step);
    item.dataset.state = failed ? (index < Math.max(at, 1) ? "done" : "failed")
      : index < at || status === "COMPLETED" ? "done" : index === at ? "active" : "todo";
  }
  statusLine.textContent = `${STATUS_TEXT[status] || status} · ${seconds(Date.now() - started)}`;
}

/** A file name safe to offer for download: the base name, plain characters only. */
function downloadName(name, mime, index) {
  const base = String(name || "").split(/[\\/]/).pop().replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\.+/, "");
  const extension = (mime.split("/")[1] || "png").replace(/[^a-z0-9]/gi, "").slice(0, 5);
  return base || `output-${index + 1}.${extension}`;
}

/** One output entry as {kind, src, mime, filename}, or null when it cannot be shown. */
function entryMedia(entry, index) {
  if (!entry || typeof entry.data !== "string") return null;
  const mime = MIME.test(entry.mime || "") ? entry.mime.toLowerCase() : "image/png";
  let src;
  if (entry.type === "url") {
    if (!/^https?:\/\//i.test(entry.data)) return null;
    src = entry.data;
  } else {
    const data = entry.data.replace(/\s+/g, "");
    if (!BASE64.test(data)) return null;
    src = `data:${mime};base64,${data}`;
  }
  const kind = mime.startsWith("video/") ? "video" : "image";
  return { kind, src, mime, filename: downloadName(entry.filename, mime, index) };
}

/** Everything the job output holds to show: the worker's `images`, else any media in it. */
function mediaOf(output) {
  if (output && Array.isArray(output.images)) return output.images.map(entryMedia).filter(Boolean);
  return findMedia(output).filter((m) => m.kind !== "model")
    .map((m, i) => ({ ...m, mime: m.kind === "video" ? "video/mp4" : "image/png", filename: `output-${i + 1}` }));
}

/** The worker's own message: a failed job's error (JSON when the handler raised), or the output's. */
function failure(job) {
  const text = job.error ?? job.output?.error;
  if (typeof text !== "string" || !text) return STATUS_TEXT[job.status] || `The job ended ${job.status}.`;
  try {
    const detail = JSON.parse(text);
    if (detail && typeof detail.error_message === "string") return detail.error_message;
  } catch {
    // Not JSON: the message itself.
  }
  return text;
}

function card(media, job) {
  const view = media.kind === "video"
    ? el("video", { src: media.src, controls: true, loop: true, muted: true, playsinline: true })
    : el("img", { src: media.src, alt: media.filename });
  return el("figure", { class: "card" }, view,
    el("figcaption", {},
      el("p", { class: "caption" }, media.filename),
      el("div", { class: "card-foot" },
        el("span", { class: "muted" }, job.executionTime ? seconds(job.executionTime) : ""),
        el("a", { href: media.src, download: media.filename, class: "link" }, "Download"))));
}

function showOutputs(media, job) {
  outputs.replaceChildren(...media.map((m) => card(m, job)));
  count.textContent = `${media.length} file${media.length === 1 ? "" : "s"}`;
}

function showError(message) {
  outputs.replaceChildren(el("div", { class: "run-error", role: "alert" }, message));
  count.textContent = "";
  toast(message);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  let input;
  try {
    input = jobInput();
  } catch (err) {
    toast(err.message);
    return;
  }
  generate.disabled = true;
  outputs.replaceChildren(el("figure", { class: "card pending" }, el("div", { class: "shimmer" })));
  const started = Date.now();
  let status = "IN_QUEUE";
  showStep(status, started);
  const ticker = setInterval(() => showStep(status, started), 1000);
  try {
    const job = await submitJob(input);
    const done = await waitJob(job.id, { onUpdate: (j) => { status = j.status; showStep(status, started); } });
    if (done.status !== "COMPLETED" || done.output?.error) throw new Error(`The workflow failed: ${failure(done)}`);
    const media = mediaOf(done.output);
    if (media.length === 0) throw new Error("The workflow finished but returned no image or video to show.");
    showOutputs(media, done);
    statusLine.textContent = `Done in ${seconds(Date.now() - started)}.`;
  } catch (err) {
    showStep("FAILED", started);
    statusLine.textContent = "Failed.";
    showError(err.message);
  } finally {
    clearInterval(ticker);
    generate.disabled = false;
  }
});

for (const field of FIELDS) {
  if (field.kind === "image") pickImage(field);
}
for (const button of document.querySelectorAll("[data-random]")) {
  const field = FIELDS.find((f) => f.name === button.dataset.random);
  button.addEventListener("click", () => { $(`field-${field.name}`).value = String(randomSeed(field)); });
}
showHealth();
