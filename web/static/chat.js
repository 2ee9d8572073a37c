() => {
  // The full chat's behaviour that Gradio does not give on its own:
  // - the newest question stays at the top while its answer streams in, so the visitor
  //   reads the answer from its first sentence (Gradio's autoscroll, off, would follow the
  //   end of the reply and show only its sources); a visitor who scrolls takes over until
  //   the next question. On a phone the page scrolls instead of the conversation box;
  // - focus goes back to the question box when an answer is complete (Gradio disables the
  //   box while it answers, which drops focus to the page);
  // - the finished answer is announced once to screen readers (the conversation itself is
  //   not live, or each streamed chunk would be read out);
  // - Gradio's markup gets the names and roles assistive technology expects.
  const root = document.querySelector("gradio-app") || document.body;
  let count = 0;
  let manual = false;
  let busy = false;
  let announced = null;
  let placeholder = "";
  const wrap = () => document.querySelector("#hc-chat .bubble-wrap");
  const question = () => document.querySelector("#hc-question textarea");

  const announcer = document.createElement("div");
  announcer.className = "hc-sr-only";
  announcer.setAttribute("role", "status");
  announcer.setAttribute("aria-live", "polite");
  announcer.id = "hc-announce";
  root.appendChild(announcer);

  const scrolls = (box) => box.scrollHeight > box.clientHeight + 1 &&
    getComputedStyle(box).overflowY !== "visible";

  const follow = (box) => {
    if (!box.dataset.hcWatched) {
      box.dataset.hcWatched = "1";
      for (const kind of ["wheel", "touchmove", "keydown", "mousedown"]) {
        box.addEventListener(kind, () => { manual = true; }, { passive: true });
      }
      window.addEventListener("wheel", () => { manual = true; }, { passive: true });
      window.addEventListener("touchmove", () => { manual = true; }, { passive: true });
    }
    const rows = box.querySelectorAll(".user-row");
    const fresh = rows.length !== count;
    if (fresh) {
      count = rows.length;
      manual = false;
    }
    const last = rows[rows.length - 1];
    if (!last || manual) return;
    if (scrolls(box)) {
      const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top;
      const wanted = box.scrollTop + top - 40;  // below the chat's own buttons
      if (Math.abs(box.scrollTop - wanted) > 2) box.scrollTop = wanted;
    } else {
      const top = last.getBoundingClientRect().top - 8;
      if (Math.abs(top) > 2) window.scrollTo({ top: window.scrollY + top });
    }
  };

  // Names and roles: Gradio puts a message's raw HTML in its aria-label, lists example
  // buttons in a role="list" without list items, and makes the conversation a live log.
  const label = (box) => {
    box.setAttribute("aria-live", "off");
    for (const message of box.querySelectorAll("[data-testid=user][aria-label], [data-testid=bot][aria-label]")) {
      message.removeAttribute("aria-label");
    }
    for (const examples of document.querySelectorAll("#hc-chat .examples[role=list]")) {
      examples.setAttribute("role", "group");
      examples.setAttribute("aria-label", "Example questions");
    }
  };

  // The answer's own text, up to its sources: what a screen reader announces.
  const answerText = () => {
    const bots = document.querySelectorAll("#hc-chat [data-testid=bot]");
    const last = bots[bots.length - 1];
    if (!last) return "";
    const text = last.innerText.split(/\n\s*Sources\s*\n/)[0];
    return text.replace(/\s+/g, " ").trim();
  };

  const settle = () => {
    const box = question();
    if (!box) return;
    placeholder = placeholder || box.placeholder;
    if (box.disabled) {
      busy = true;
      return;
    }
    if (!busy) return;
    busy = false;
    if (!box.placeholder) box.placeholder = placeholder;  // Gradio clears it while answering
    // The answer is complete: say it once, and put the visitor back in the question box
    // (unless they have moved focus somewhere themselves).
    const text = answerText();
    if (text && text !== announced) {
      announced = text;
      announcer.textContent = "";
      setTimeout(() => { announcer.textContent = text; }, 50);
    }
    const active = document.activeElement;
    if (!active || active === document.body || active === root || !active.isConnected) {
      box.focus({ preventScroll: true });
    }
  };

  const update = () => {
    // Gradio's container hides its overflow, which would make it, not the page, the frame
    // of the question box that static/chat.css keeps at the bottom of a phone's screen;
    // clipping looks the same and leaves the page in charge. (Custom CSS cannot reach it.)
    const container = document.querySelector(".gradio-container");
    if (container && container.style.overflow !== "clip") container.style.overflow = "clip";
    const box = wrap();
    if (box) {
      label(box);
      follow(box);
    }
    settle();
  };
  new MutationObserver(update).observe(root, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["disabled", "aria-label", "role"],
  });
  update();
}
