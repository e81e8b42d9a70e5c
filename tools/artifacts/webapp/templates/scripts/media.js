// 3D or video generation: a prompt and an optional image, one long job with a visible
// status, then a <model-viewer> for glTF or a <video> player.
import { config, el, toast, submitJob, waitJob, findMedia, seconds, showHealth, STATUS_TEXT } from "./common.js";

const form = document.getElementById("form");
const fileInput = document.getElementById("image");
const preview = document.getElementById("preview");
const dropText = document.getElementById("drop-text");
const viewer = document.getElementById("viewer");
const statusLine = document.getElementById("status-line");
const download = document.getElementById("download");
const generate = document.getElementById("generate");
const MAX_IMAGE_BYTES = 3 * 1024 * 1024; // Base64 grows it by a third; the server takes 4 MB.
const ORDER = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"];
let imageData = null;
let viewerScript = null;

fileInput.addEventListener("change", () => {
  const file = fileInput.files[0];
  imageData = null;
  preview.hidden = true;
  dropText.hidden = false;
  if (!file) return;
  if (file.size > MAX_IMAGE_BYTES) {
    toast("That image is larger than 3 MB; choose a smaller one.");
    fileInput.value = "";
    return;
  }
  const reader = new FileReader();
  reader.onload = () => {
    imageData = reader.result;
    preview.src = imageData;
    preview.hidden = false;
    dropText.hidden = true;
  };
  reader.readAsDataURL(file);
});

function showStep(status, started) {
  const at = ORDER.indexOf(status);
  for (const item of document.querySelectorAll("#steps li")) {
    const index = ORDER.indexOf(item.dataset.step);
    item.dataset.state = status === "FAILED" || status === "CANCELLED" || status === "TIMED_OUT"
      ? (index < Math.max(at, 1) ? "done" : "failed")
      : index < at || status === "COMPLETED" ? "done" : index === at ? "active" : "todo";
  }
  statusLine.textContent = `${STATUS_TEXT[status] || status} · ${seconds(Date.now() - started)}`;
}

/** model-viewer is loaded only when a model arrives, from a pinned, integrity-checked URL. */
function loadModelViewer() {
  if (customElements.get("model-viewer")) return Promise.resolve(true);
  viewerScript ??= new Promise((resolve) => {
    const script = document.createElement("script");
    script.type = "module";
    script.src = config.modelViewer.src;
    script.integrity = config.modelViewer.integrity;
    script.crossOrigin = "anonymous";
    script.onload = () => customElements.whenDefined("model-viewer").then(() => resolve(true));
    script.onerror = () => resolve(false);
    document.head.append(script);
  });
  return viewerScript;
}

function extensionOf(media) {
  const type = /^data:([^;,]+)/.exec(media.src)?.[1] || "";
  const known = { "video/webm": "webm", "video/quicktime": "mov", "model/gltf+json": "gltf", "image/jpeg": "jpg", "image/webp": "webp" };
  if (known[type]) return known[type];
  const path = /\.([a-z0-9]{2,5})(?:[?#]|$)/i.exec(media.src.startsWith("data:") ? "" : media.src);
  if (path) return path[1].toLowerCase();
  return media.kind === "model" ? "glb" : media.kind === "video" ? "mp4" : "png";
}

async function show(media) {
  viewer.replaceChildren();
  if (media.kind === "video") {
    viewer.append(el("video", { src: media.src, controls: true, autoplay: true, muted: true, loop: true, playsinline: true }));
  } else if (media.kind === "model") {
    const node = el("model-viewer", { src: media.src, alt: "Generated 3D model", "camera-controls": true, "auto-rotate": true, "shadow-intensity": "1", exposure: "1" });
    viewer.append(node);
    if (!(await loadModelViewer())) {
      viewer.replaceChildren(el("div", { class: "viewer-empty" },
        el("div", { class: "empty-mark cube", "aria-hidden": "true" }),
        el("p", {}, "Your 3D model is ready."),
        el("p", { class: "muted" }, "The 3D preview could not load (it needs cdn.jsdelivr.net). Download the .glb and open it in any glTF viewer.")));
    }
  } else {
    viewer.append(el("img", { src: media.src, alt: "Generated image" }));
  }
  const extension = extensionOf(media);
  download.href = media.src;
  download.download = `result.${extension}`;
  download.textContent = `Download .${extension}`;
  download.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const prompt = document.getElementById("prompt").value.trim();
  if (!prompt && !imageData) {
    toast("Write a prompt or add an image.");
    return;
  }
  const input = {};
  if (prompt) input.prompt = prompt;
  if (imageData) input.image = imageData;
  generate.disabled = true;
  download.hidden = true;
  viewer.dataset.state = "working";
  const started = Date.now();
  showStep("IN_QUEUE", started);
  const ticker = setInterval(() => showStep(viewer.dataset.status || "IN_QUEUE", started), 1000);
  try {
    const job = await submitJob(input);
    const done = await waitJob(job.id, { onUpdate: (j) => { viewer.dataset.status = j.status; showStep(j.status, started); } });
    if (done.status !== "COMPLETED") throw new Error(done.error || STATUS_TEXT[done.status]);
    const wanted = config.media === "video" ? "video" : "model";
    const media = findMedia(done.output);
    const best = media.find((m) => m.kind === wanted) || media[0];
    if (!best) throw new Error("The job finished but returned no file to show.");
    await show(best);
  } catch (err) {
    showStep("FAILED", started);
    statusLine.textContent = err.message;
    toast(err.message);
  } finally {
    clearInterval(ticker);
    delete viewer.dataset.status;
    viewer.dataset.state = "idle";
    generate.disabled = false;
  }
});
showHealth();
