#!/usr/bin/env node
// Run the app locally: `node dev-server.mjs`, then open the printed URL.
//
// Serves the static front end from public/ and routes /api/infer to api/infer.js, the
// same function that Vercel and Netlify run. Reads .env if there is one (variables that
// are already set win). Node 18 or newer; nothing to install.
//
//   PORT  port to listen on (default 3000; 0 picks a free one)
//   HOST  interface to listen on (default 127.0.0.1: this machine only)
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(fileURLToPath(import.meta.url));
const publicDir = path.join(root, "public");
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webmanifest": "application/manifest+json",
};
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

function loadEnv(file) {
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || process.env[match[1]] !== undefined) continue;
    let value = match[2];
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2];
    else if (value.startsWith("#")) value = "";
    process.env[match[1]] = value;
  }
}

loadEnv(path.join(root, ".env"));
const infer = createRequire(import.meta.url)("./api/infer.js");

async function serveStatic(req, res, pathname) {
  let relative;
  try {
    relative = decodeURIComponent(pathname);
  } catch {
    relative = "";
  }
  if (relative.endsWith("/")) relative += "index.html";
  const file = path.resolve(publicDir, `.${relative}`);
  // Never serve anything outside public/ (no ../ tricks): .env and api/ stay private.
  if (!relative || (file !== publicDir && !file.startsWith(publicDir + path.sep))) {
    return send(res, 404, "text/plain; charset=utf-8", "Not found");
  }
  try {
    const body = await readFile(file);
    const type = TYPES[path.extname(file)] || "application/octet-stream";
    send(res, 200, type, req.method === "HEAD" ? "" : body);
  } catch {
    send(res, 404, "text/plain; charset=utf-8", "Not found");
  }
}

function send(res, status, type, body) {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, "cache-control": "no-cache" });
  res.end(body);
}

const server = createServer((req, res) => {
  const { pathname } = new URL(req.url || "/", "http://localhost");
  if (pathname === "/api/infer" || pathname === "/api/infer/") {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    infer(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, "application/json", '{"error":"The function crashed."}');
      else res.end();
    });
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain; charset=utf-8", "Method not allowed");
  serveStatic(req, res, pathname);
});

const port = Number(process.env.PORT || 3000); // An empty PORT= (from .env.example) means the default.
const host = process.env.HOST || "127.0.0.1";
server.listen(port, host, () => {
  const { port: actual } = server.address();
  console.log(`Listening on http://${host}:${actual}`);
  const keys = ["RUNPOD_API_KEY", "HF_TOKEN", "GCP_SERVICE_ACCOUNT_JSON", "SAGEMAKER_SECRET_ACCESS_KEY"]; // the endpoint's key, by target
  if (!keys.some((name) => process.env[name])) console.log("The endpoint's key is not set: copy .env.example to .env and fill it in.");
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
