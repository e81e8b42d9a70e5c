// Shared by every page: the app's config, calls to /api/infer, job polling, chat
// streaming, finding media in a job's output, and small DOM helpers.
//
// The browser only ever talks to /api/infer on this site. The endpoint's key (RunPod key,
// Hugging Face token or Google service-account key) stays on the server; nothing here knows it. Text from the model or the job is always inserted as
// text (textContent), never as HTML.

export const config = JSON.parse(document.getElementById("app-config").textContent);

const FINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
const PASSCODE_KEY = "app-passcode";
const WAKE_LIMIT_MS = 15 * 60 * 1000; // a GPU endpoint scaled to zero takes minutes to start
// Hugging Face and Cloud Run answer a job at once: its result, kept for `waitJob`.
const settled = new Map();

/** Create an element: `el("p", {class: "x"}, "text", child)`. Strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

let toastTimer;
/** Show a message at the bottom of the page for a few seconds. */
export function toast(message, kind = "error") {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 7000);
}

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function askPasscode() {
  const dialog = document.getElementById("passcode-dialog");
  const input = dialog.querySelector("input");
  input.value = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? input.value : null), { once: true });
    dialog.showModal();
  });
}

/**
 * fetch /api/infer; asks for the passcode once if the server wants one. While the model
 * wakes up from zero (503 "waking"), says so and asks again, for up to 15 minutes.
 */
export async function api(init = {}, query = "") {
  const started = Date.now();
  for (let wait = 0; ; wait++) {
    try {
      const resp = await apiOnce(init, query);
      if (wait > 0) showAwake();
      return resp;
    } catch (err) {
      if (err.code !== "waking" || Date.now() - started > WAKE_LIMIT_MS) throw err;
      showWaking(err.message);
      await sleep(Math.min(10000, 2000 * 2 ** wait), init.signal);
    }
  }
}

/** The server's words for the wait (it knows how long its target takes), else ours. */
function showWaking(message) {
  toast(message || "Waking the model up… it was scaled to zero; the first answer takes a few minutes.", "info");
  const chip = document.getElementById("health");
  chip.dataset.state = "cold";
  chip.textContent = "Waking the model up…";
}

function showAwake() {
  const chip = document.getElementById("health");
  chip.dataset.state = "warm";
  chip.textContent = "Model awake";
}

async function apiOnce(init, query) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = { ...(init.headers || {}) };
    const passcode = sessionStorage.getItem(PASSCODE_KEY);
    if (passcode) headers["x-app-passcode"] = passcode;
    let resp;
    try {
      resp = await fetch(`/api/infer${query}`, { ...init, headers });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError("Could not reach the app's server. Check your connection and try again.", 0);
    }
    if (resp.ok) return resp;
    const body = await resp.json().catch(() => ({}));
    if (resp.status === 401 && body.code === "passcode" && attempt === 0) {
      const given = await askPasscode();
      if (given === null) throw new ApiError("A passcode is needed to use this app.", 401, "passcode");
      sessionStorage.setItem(PASSCODE_KEY, given);
      continue;
    }
    throw new ApiError(body.error || `The server answered ${resp.status}.`, resp.status, body.code);
  }
  throw new ApiError("The passcode was not accepted.", 401, "passcode");
}

/** Queue a job; returns `{id, status}` (a finished job where the endpoint answers at once). */
export async function submitJob(input, signal) {
  const resp = await api({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input }), signal });
  const job = await resp.json();
  if (FINAL.has(job.status)) settled.set(job.id, job);
  return job;
}

/** Poll a job until it is final; `onUpdate(job)` sees every state. Returns the final job. */
export async function waitJob(id, { onUpdate = () => {}, signal, timeoutMs = 20 * 60 * 1000 } = {}) {
  const done = settled.get(id);
  if (done) {
    settled.delete(id);
    onUpdate(done);
    return done;
  }
  const started = Date.now();
  for (let poll = 0; ; poll++) {
    const job = await (await api({ signal }, `?id=${encodeURIComponent(id)}`)).json();
    onUpdate(job);
    if (FINAL.has(job.status)) return job;
    if (Date.now() - started > timeoutMs) throw new ApiError("The job is taking too long; it may still finish on RunPod.", 504);
    // Poll fast at first (a warm worker answers within a second), then settle at 3 s.
    await sleep(Math.min(3000, 250 * 2 ** poll), signal);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("Aborted", "AbortError")); }, { once: true });
  });
}

/** Stream a chat completion; `onDelta(text)` gets each piece. Returns the whole reply. */
export async function streamChat(messages, { onDelta, signal, maxTokens } = {}) {
  const resp = await api({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ chat: { messages, max_tokens: maxTokens } }),
    signal,
  });
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let reply = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    const lines = buffer.split(/\r?\n/);
    buffer = done ? "" : lines.pop();
    for (const line of lines) {
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (!data || data === "[DONE]") continue;
      let chunk;
      try { chunk = JSON.parse(data); } catch { continue; }
      if (chunk.error) throw new ApiError(chunk.error.message || "The model reported an error.", 502);
      const piece = chunk.choices?.[0]?.delta?.content || chunk.choices?.[0]?.text || "";
      if (piece) {
        reply += piece;
        onDelta(piece);
      }
    }
    if (done) return reply;
  }
}

const MEDIA_BY_EXTENSION = [
  [/\.(png|jpe?g|webp|gif|avif)(\?|#|$)/i, "image"],
  [/\.(mp4|webm|mov|m4v)(\?|#|$)/i, "video"],
  [/\.(glb|gltf)(\?|#|$)/i, "model"],
];
// Base64 that starts with a file's magic number: PNG, JPEG, GIF, WebP, glTF binary, MP4, WebM.
const MEDIA_BY_MAGIC = [
  ["iVBORw0KGgo", "image", "image/png"], ["/9j/", "image", "image/jpeg"], ["R0lGOD", "image", "image/gif"],
  ["UklGR", "image", "image/webp"], ["Z2xURg", "model", "model/gltf-binary"],
  ["GkXfo", "video", "video/webm"],
];

function classify(text, hint) {
  if (text.startsWith("data:")) {
    const type = text.slice(5, text.indexOf(";")).toLowerCase();
    if (type.startsWith("image/")) return { kind: "image", src: text };
    if (type.startsWith("video/")) return { kind: "video", src: text };
    if (type.startsWith("model/") || /glb|gltf/.test(hint)) return { kind: "model", src: text };
    return null;
  }
  if (/^https?:\/\//i.test(text)) {
    const found = MEDIA_BY_EXTENSION.find(([pattern]) => pattern.test(text));
    return found ? { kind: found[1], src: text } : null;
  }
  if (text.length < 64 || !/^[A-Za-z0-9+/=\s]+$/.test(text.slice(0, 256))) return null;
  const magic = MEDIA_BY_MAGIC.find(([prefix]) => text.startsWith(prefix));
  if (magic) return { kind: magic[1], src: `data:${magic[2]};base64,${text}` };
  if (text.slice(4, 12) === "ZnR5cG" || text.startsWith("AAAA")) {
    if (/video|mp4/i.test(hint)) return { kind: "video", src: `data:video/mp4;base64,${text}` };
  }
  return null;
}

/** Every image, video and 3D model in a job's output, wherever the worker put it. */
export function findMedia(output, hint = "", depth = 0, found = []) {
  if (depth > 6 || found.length >= 32) return found;
  if (typeof output === "string") {
    const media = classify(output.trim(), hint.toLowerCase());
    if (media) found.push(media);
  } else if (Array.isArray(output)) {
    for (const item of output) findMedia(item, hint, depth + 1, found);
  } else if (output && typeof output === "object") {
    for (const [key, value] of Object.entries(output)) findMedia(value, key, depth + 1, found);
  }
  return found;
}

/** The text of a completion, whatever shape the worker gave it. */
export function textOf(output) {
  if (typeof output === "string") return output;
  if (Array.isArray(output)) return output.map(textOf).join("");
  if (output && typeof output === "object") {
    if (Array.isArray(output.choices)) {
      return output.choices.map((c) => c.message?.content ?? c.text ?? (Array.isArray(c.tokens) ? c.tokens.join("") : "")).join("");
    }
    // A chat pipeline answers with the whole conversation: the reply is its last message.
    if (Array.isArray(output.generated_text)) return textOf(output.generated_text.at(-1)?.content ?? "");
    for (const key of ["text", "generated_text", "output", "response", "content"]) {
      if (output[key] !== undefined) return textOf(output[key]);
    }
  }
  return JSON.stringify(output);
}

export const STATUS_TEXT = {
  IN_QUEUE: "Queued: waiting for a GPU worker (a cold start can take a minute)",
  IN_PROGRESS: "Running on the GPU",
  COMPLETED: "Done",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
  TIMED_OUT: "Timed out",
};

/** "350 ms", "12.3 s" or "2 min 5 s". */
export function seconds(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Show whether a worker is warm, in the header (free: /health uses no GPU time). */
export async function showHealth() {
  const chip = document.getElementById("health");
  try {
    const health = await (await api({}, "?health=1")).json();
    if (health.target) {
      // Hugging Face and Cloud Run report no worker counts: a request wakes them when needed.
      // A SageMaker endpoint keeps its instance running.
      const names = { cloudrun: "Google Cloud Run", sagemaker: "Amazon SageMaker" };
      chip.dataset.state = health.target === "sagemaker" ? "warm" : "cold";
      chip.textContent = names[health.target] || "Hugging Face endpoint";
      chip.title = health.target === "sagemaker" ? "Always on: the endpoint bills every hour until torn down"
        : "Scales to zero when idle; the first request after a quiet spell wakes the model up";
      return;
    }
    const warm = (health.workers.idle || 0) + (health.workers.running || 0);
    chip.dataset.state = warm > 0 ? "warm" : "cold";
    chip.textContent = warm > 0 ? `${warm} worker${warm > 1 ? "s" : ""} ready` : "Scaled to zero";
    chip.title = warm > 0 ? "A GPU worker is running" : "No worker is running; the first request starts one";
  } catch (err) {
    chip.dataset.state = "error";
    chip.textContent = "Endpoint unreachable";
    chip.title = err.message;
  }
}
