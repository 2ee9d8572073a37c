() => {
  // Keep the newest question at the top of the chat while its answer streams in, so the
  // visitor reads the answer from its first sentence. Gradio's own autoscroll (off) would
  // follow the end of the reply, leaving only its sources in view. A visitor who scrolls
  // takes over until the next question.
  let count = 0;
  let manual = false;
  const wrap = () => document.querySelector("#hc-chat .bubble-wrap");
  const follow = () => {
    const box = wrap();
    if (!box) return;
    if (!box.dataset.hcWatched) {
      box.dataset.hcWatched = "1";
      for (const kind of ["wheel", "touchmove", "keydown", "mousedown"]) {
        box.addEventListener(kind, () => { manual = true; }, { passive: true });
      }
    }
    const rows = box.querySelectorAll(".user-row");
    if (rows.length !== count) {
      count = rows.length;
      manual = false;
    }
    const last = rows[rows.length - 1];
    if (!last || manual) return;
    const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top;
    const wanted = box.scrollTop + top - 40;  // below the chat's own buttons
    if (Math.abs(box.scrollTop - wanted) > 2) box.scrollTop = wanted;
  };
  new MutationObserver(follow).observe(document.body, { childList: true, subtree: true });
}
