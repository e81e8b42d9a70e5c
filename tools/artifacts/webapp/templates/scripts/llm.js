// LLM chat: streams tokens from the OpenAI-compatible route (vLLM endpoints), or runs a
// job (a transformers text-generation worker) and shows its text. The conversation lives
// in this tab only.
import { config, el, toast, streamChat, submitJob, waitJob, textOf, showHealth, STATUS_TEXT } from "./common.js";

const log = document.getElementById("log");
const empty = document.getElementById("empty");
const form = document.getElementById("composer");
const prompt = document.getElementById("prompt");
const send = document.getElementById("send");
const stop = document.getElementById("stop");
const history = [];
let controller = null;

function bubble(role, text = "") {
  empty.hidden = true;
  const body = el("div", { class: "bubble-text" }, text);
  const row = el("div", { class: `message ${role}` },
    el("div", { class: "avatar", "aria-hidden": "true" }, role === "user" ? "You" : "AI"),
    el("div", { class: "bubble" }, body));
  log.append(row);
  log.scrollTop = log.scrollHeight;
  return { row, body };
}

function busy(on) {
  send.disabled = on;
  stop.hidden = !on;
  prompt.disabled = on;
  if (!on) prompt.focus();
}

async function reply(target) {
  if (config.streams) {
    return streamChat(history, {
      signal: controller.signal,
      onDelta(piece) {
        target.body.append(piece);
        log.scrollTop = log.scrollHeight;
      },
    });
  }
  // The input of KripTik's transformers worker: a text-generation pipeline takes chat messages.
  const input = { inputs: history, parameters: { max_new_tokens: 1024, return_full_text: false } };
  const job = await submitJob(input, controller.signal);
  const done = await waitJob(job.id, {
    signal: controller.signal,
    onUpdate: (j) => { target.row.dataset.status = j.status; target.body.dataset.note = STATUS_TEXT[j.status] || j.status; },
  });
  if (done.status !== "COMPLETED") throw new Error(done.error || STATUS_TEXT[done.status]);
  const text = textOf(done.output);
  target.body.append(text);
  return text;
}

async function ask(text) {
  history.push({ role: "user", content: text });
  bubble("user", text);
  const target = bubble("assistant");
  target.row.classList.add("pending");
  controller = new AbortController();
  busy(true);
  try {
    const answer = await reply(target);
    history.push({ role: "assistant", content: answer });
  } catch (err) {
    if (err.name === "AbortError") {
      target.row.classList.add("stopped");
      history.push({ role: "assistant", content: target.body.textContent });
    } else {
      history.pop();
      target.row.classList.add("failed");
      target.body.textContent = err.message;
      toast(err.message);
    }
  } finally {
    target.row.classList.remove("pending");
    delete target.body.dataset.note;
    controller = null;
    busy(false);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = prompt.value.trim();
  if (!text || controller) return;
  prompt.value = "";
  prompt.style.height = "";
  ask(text);
});
prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
prompt.addEventListener("input", () => {
  prompt.style.height = "";
  prompt.style.height = `${Math.min(prompt.scrollHeight, 220)}px`;
});
stop.addEventListener("click", () => controller?.abort());
document.getElementById("reset").addEventListener("click", () => {
  controller?.abort();
  history.length = 0;
  for (const node of log.querySelectorAll(".message")) node.remove();
  empty.hidden = false;
  prompt.focus();
});
for (const chip of document.querySelectorAll(".suggestion")) {
  chip.addEventListener("click", () => { prompt.value = chip.textContent; form.requestSubmit(); });
}
showHealth();
prompt.focus();
