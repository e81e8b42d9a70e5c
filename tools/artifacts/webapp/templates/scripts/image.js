// Image generation: one job per prompt; finished images go to the top of the gallery.
import { el, toast, submitJob, waitJob, findMedia, seconds, showHealth, STATUS_TEXT } from "./common.js";

const form = document.getElementById("form");
const gallery = document.getElementById("gallery");
const emptyState = document.getElementById("gallery-empty");
const count = document.getElementById("count");
const $ = (id) => document.getElementById(id);
let images = 0;

// A number field's value, or `fallback` when it is empty: 0 is a value (guidance 0 is valid).
function numberOr(id, fallback) {
  const raw = $(id).value.trim();
  const value = Number(raw);
  return raw === "" || !Number.isFinite(value) ? fallback : value;
}

function jobInput() {
  const [width, height] = $("size").value.split("x").map(Number);
  const input = {
    prompt: $("prompt").value.trim(),
    num_inference_steps: numberOr("steps", 30),
    guidance_scale: numberOr("guidance", 7),
    width,
    height,
  };
  if ($("negative").value.trim()) input.negative_prompt = $("negative").value.trim();
  if ($("seed").value !== "") input.seed = Number($("seed").value);
  return input;
}

function pendingCard(prompt) {
  emptyState.hidden = true;
  const status = el("span", { class: "status-pill", "data-status": "IN_QUEUE" }, "Queued");
  const card = el("figure", { class: "card pending" },
    el("div", { class: "shimmer" }),
    el("figcaption", {}, el("p", { class: "caption" }, prompt), el("div", { class: "card-foot" }, status)));
  gallery.prepend(card);
  return { card, status };
}

function fill(card, media, prompt, job) {
  card.classList.remove("pending");
  card.replaceChildren();
  const first = media[0];
  card.append(
    el("a", { href: first.src, target: "_blank", rel: "noopener", class: "thumb" }, el("img", { src: first.src, alt: prompt, loading: "lazy" })),
    el("figcaption", {},
      el("p", { class: "caption" }, prompt),
      el("div", { class: "card-foot" },
        el("span", { class: "muted" }, job.executionTime ? seconds(job.executionTime) : ""),
        el("a", { href: first.src, download: `image-${Date.now()}.png`, class: "link" }, "Download"))));
  for (const extra of media.slice(1)) gallery.insertBefore(el("figure", { class: "card" }, el("img", { src: extra.src, alt: prompt })), card.nextSibling);
  images += media.length;
  count.textContent = `${images} image${images === 1 ? "" : "s"}`;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = jobInput();
  if (!input.prompt) return;
  const { card, status } = pendingCard(input.prompt);
  try {
    const job = await submitJob(input);
    const done = await waitJob(job.id, {
      onUpdate(j) {
        status.dataset.status = j.status;
        status.textContent = j.status === "IN_PROGRESS" ? "Generating" : j.status === "IN_QUEUE" ? "Queued" : j.status;
        status.title = STATUS_TEXT[j.status] || j.status;
      },
    });
    if (done.status !== "COMPLETED") throw new Error(done.error || STATUS_TEXT[done.status]);
    const media = findMedia(done.output).filter((m) => m.kind === "image");
    if (media.length === 0) throw new Error("The job finished but returned no image.");
    fill(card, media, input.prompt, done);
  } catch (err) {
    card.classList.remove("pending");
    card.classList.add("failed");
    status.dataset.status = "FAILED";
    status.textContent = "Failed";
    card.querySelector(".shimmer")?.replaceWith(el("div", { class: "card-error" }, err.message));
    toast(err.message);
  }
});
showHealth();
