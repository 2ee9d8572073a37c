/*
 * Hinge Coach chat widget. A gym pastes one line into its page:
 *
 *   <script src="https://coach.example-gym.com/widget.js" async></script>
 *
 * (every attribute is optional: without them the widget takes the gym's name and accent
 * from the coach server's settings). It adds a floating chat button; the button opens the
 * chat (/embed on the same server) in a panel, with the question box focused; Escape closes
 * it and puts focus back on the button. Attributes, all optional:
 *   data-position  "bottom-right" (default) or "bottom-left"
 *   data-accent    button and header colour, "#rgb" or "#rrggbb" (default: the server's)
 *   data-label     the button's accessible name (default: "Ask <gym name>")
 *   data-open      "true" to open the panel when the page loads
 * The server only lets pages on its allowlist show the chat (CSP frame-ancestors). On a page
 * that is not on it, the panel says so instead of showing a blank, blocked frame.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__hingeCoachWidget) return;
  window.__hingeCoachWidget = true;

  var DEFAULTS = /*CONFIG*/ {}; // the server fills in its branding here
  var HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
  var data = script.dataset;
  var base = new URL(".", script.src); // the server the script came from
  var accent = HEX.test(data.accent || "") ? data.accent : DEFAULTS.accent || "#2f6f4f";
  var left = data.position === "bottom-left";
  var ink = inkOn(accent); // the button's icon: white or near-black, whichever reads better
  var name = DEFAULTS.name || "Hinge Coach";
  var label = data.label || "Ask " + name;
  // The server's own pages and its allowlist may frame the chat (the CSP says the same).
  var origins = DEFAULTS.origins || [location.origin];
  var allowed = location.origin === base.origin || origins.indexOf(location.origin) >= 0;

  var CSS =
    ":host{all:initial}" +
    ".hc-button{position:fixed;bottom:20px;" + (left ? "left" : "right") + ":20px;" +
    "width:58px;height:58px;border-radius:50%;border:0;cursor:pointer;" +
    "background:var(--accent);color:var(--ink);box-shadow:0 6px 20px rgba(0,0,0,.25);" +
    "display:flex;align-items:center;justify-content:center;z-index:2147483000;padding:0}" +
    ".hc-button:focus-visible{outline:3px solid #fff;outline-offset:-6px}" +
    ".hc-button svg{width:28px;height:28px;fill:currentColor}" +
    ".hc-panel{position:fixed;bottom:90px;" + (left ? "left" : "right") + ":20px;" +
    "width:min(390px,calc(100vw - 24px));height:min(620px,calc(100vh - 110px));" +
    "border-radius:14px;overflow:hidden;background:#fff;z-index:2147483000;" +
    "box-shadow:0 12px 40px rgba(0,0,0,.3);display:none}" +
    ".hc-panel.open{display:block}" +
    ".hc-panel iframe{border:0;width:100%;height:100%;display:block}" +
    ".hc-panel.hc-short{height:auto}" +
    ".hc-off{font:15px/1.5 system-ui,sans-serif;color:#1f2933;padding:28px 22px}" +
    ".hc-off strong{display:block;font-size:17px;margin-bottom:6px}" +
    "@media (max-width:480px){.hc-panel{left:0;right:0;bottom:0;top:0;width:100vw;" +
    "height:100vh;border-radius:0}.hc-panel.open~.hc-button{bottom:auto;top:10px;" +
    "width:40px;height:40px}}";
  var CHAT =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 ' +
    '2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 ' +
    '0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/></svg>';
  var CLOSE =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6' +
    ' 13.4 4.3 19.7l-1.4-1.4L9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3z"/></svg>';

  // WCAG relative luminance, to pick the icon's colour for any accent.
  function inkOn(hex) {
    var h = hex.slice(1);
    if (h.length === 3) h = h.replace(/./g, "$&$&");
    var lum = [0, 2, 4].reduce(function (sum, at, i) {
      var c = parseInt(h.slice(at, at + 2), 16) / 255;
      c = c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
      return sum + c * [0.2126, 0.7152, 0.0722][i];
    }, 0);
    return (1.05 / (lum + 0.05) >= (lum + 0.05) / (0.0092 + 0.05)) ? "#fff" : "#111827";
  }

  function mount() {
    var host = document.createElement("div");
    host.id = "hinge-coach-widget";
    var root = host.attachShadow({ mode: "open" });
    try {
      // Constructed style sheets also work on pages whose CSP forbids inline <style>.
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      var style = document.createElement("style");
      style.textContent = CSS;
      root.appendChild(style);
    }
    host.style.setProperty("--accent", accent);
    host.style.setProperty("--ink", ink);

    var panel = document.createElement("div");
    panel.className = "hc-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", name + " chat");
    var button = document.createElement("button");
    button.className = "hc-button";
    button.type = "button";
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-expanded", "false");
    button.title = label;
    button.innerHTML = CHAT; // a constant, never page or server data
    root.appendChild(panel);
    root.appendChild(button);

    function refusal() {
      // Text only: nothing from the page or the server is parsed as HTML.
      var box = document.createElement("div");
      box.className = "hc-off";
      box.setAttribute("role", "status");
      box.tabIndex = -1; // focused when the panel opens, so it is read out
      var title = document.createElement("strong");
      title.textContent = "This chat isn't available on this website.";
      var body = document.createElement("span");
      body.textContent = "You can ask " + name + " on its own site.";
      box.appendChild(title);
      box.appendChild(body);
      if (window.console) {
        console.warn(
          "Hinge Coach: " + location.origin + " is not on the coach server's allowed origins " +
            "(HINGECOACH_ALLOWED_ORIGINS), so the chat is not shown here."
        );
      }
      return box;
    }

    var frame = null;
    var loaded = false;
    // Focus goes into the chat's question box: the frame first (a page may move focus
    // into its own frame), then the chat page is asked to focus its box.
    function focusChat() {
      if (!frame || !loaded) return;
      frame.focus();
      frame.contentWindow.postMessage({ hingeCoach: "focus" }, base.origin);
    }

    function toggle(open) {
      if (open && !panel.firstChild && !allowed) {
        panel.classList.add("hc-short");
        panel.appendChild(refusal());
      } else if (open && !panel.firstChild) {
        // The chat loads on first open only, so the gym's page pays nothing until then.
        frame = document.createElement("iframe");
        frame.title = name + " chat";
        frame.src = new URL("embed?accent=" + encodeURIComponent(accent), base).toString();
        frame.setAttribute("allow", "clipboard-write");
        frame.addEventListener("load", function () {
          loaded = true;
          if (panel.classList.contains("open")) focusChat();
        });
        panel.appendChild(frame);
      }
      panel.classList.toggle("open", open);
      button.setAttribute("aria-expanded", String(open));
      button.setAttribute("aria-label", open ? "Close chat" : label);
      button.title = open ? "Close chat" : label;
      button.innerHTML = open ? CLOSE : CHAT;
      if (open && frame) focusChat();
      else if (open) panel.firstChild.focus();
    }
    function close() {
      toggle(false);
      button.focus();
    }
    button.addEventListener("click", function () {
      toggle(!panel.classList.contains("open"));
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && panel.classList.contains("open")) close();
    });
    // Escape pressed inside the chat (another document) comes as a message from its frame.
    window.addEventListener("message", function (event) {
      if (frame && event.source === frame.contentWindow && event.origin === base.origin &&
          event.data && event.data.hingeCoach === "close" && panel.classList.contains("open")) {
        close();
      }
    });
    document.body.appendChild(host);
    if (data.open === "true") toggle(true);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
