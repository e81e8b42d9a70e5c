"use strict";
// Netlify's entry point for /api/infer (netlify.toml rewrites /api/* to /.netlify/functions/*).
// The code lives in api/infer.js, shared with Vercel and the local dev server.
module.exports = { handler: require("../../api/infer.js").handler };
