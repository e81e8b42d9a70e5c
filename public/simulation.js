// `kriptik demo` only: a banner on every page (login included) saying that this is a
// simulation. Loaded through Chainlit's custom_js, which `kriptik serve` sets only when
// the settings say `simulation`. It reserves its own height, so nothing is covered.
(function () {
  const ID = "kriptik-simulation-banner";
  function show() {
    if (document.getElementById(ID)) return;
    const bar = document.createElement("div");
    bar.id = ID;
    bar.setAttribute("role", "note");
    bar.setAttribute("aria-label", "Simulation");
    bar.innerHTML =
      "<strong>SIMULATION</strong> · Every cloud provider and the AI model here are local " +
      "simulators. Nothing real is created and nothing is charged. The keys to paste are " +
      "printed in the terminal that runs <code>kriptik demo</code>.";
    document.body.prepend(bar);
    document.documentElement.classList.add("kriptik-simulation");
  }
  const style = document.createElement("style");
  style.textContent =
    "#" + ID + "{position:fixed;top:0;left:0;right:0;z-index:2147483647;height:32px;" +
    "display:flex;align-items:center;justify-content:center;gap:.4em;padding:0 12px;" +
    "font:500 13px/1.2 Inter,system-ui,sans-serif;color:#1a1300;background:#f5c542;" +
    "border-bottom:1px solid #b8901c;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}" +
    "#" + ID + " code{font:600 12px ui-monospace,monospace;background:#0000001a;" +
    "padding:1px 4px;border-radius:3px}" +
    // Chainlit sizes its layout to the viewport (h-svh, min-h-svh, a fixed sidebar): each
    // gives up the banner's height, so nothing scrolls and nothing hides under it.
    "html.kriptik-simulation body{padding-top:32px;box-sizing:border-box}" +
    "html.kriptik-simulation .min-h-svh{min-height:calc(100svh - 32px)!important}" +
    "html.kriptik-simulation .h-svh{height:calc(100svh - 32px)!important}" +
    "html.kriptik-simulation .h-screen{height:calc(100vh - 32px)!important}" +
    "html.kriptik-simulation .fixed.inset-y-0{top:32px!important;" +
    "height:calc(100svh - 32px)!important}";
  document.head.appendChild(style);
  if (document.body) show();
  else document.addEventListener("DOMContentLoaded", show);
})();
