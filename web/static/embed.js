// The compact chat page (/embed): asks /api/ask, shows the answer with its quoted sources,
// and sends thumbs up/down to /api/feedback. All text goes in through textContent, never
// innerHTML, so nothing from a question, an answer or an article can run as markup.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("hc-config").textContent || "{}");
  var log = document.getElementById("hc-log");
  var form = document.getElementById("hc-form");
  var box = document.getElementById("hc-question");
  var send = document.getElementById("hc-send");
  var announcer = document.getElementById("hc-announce");
  var asked = []; // earlier questions, oldest first: follow-ups use them
  var lastCited = []; // what the answer before quoted: a follow-up quotes something new
  var CONTEXT = 160; // characters of the passage shown around a quote

  var style = document.documentElement.style;
  if (config.accent) style.setProperty("--accent", config.accent);
  if (config.ink) style.setProperty("--accent-ink", config.ink);
  if (config.text) style.setProperty("--accent-text", config.text);
  var GYM_BUSINESS = "gym business"; // an answer's refusal_topic that the contact line follows

  // Screen readers hear a finished answer (or an error) once; the log itself is not live.
  function announce(text) {
    announcer.textContent = "";
    setTimeout(function () {
      announcer.textContent = text;
    }, 50);
  }

  // Only http(s) addresses become links; anything else stays out of the page.
  function webAddress(url) {
    return typeof url === "string" && /^https?:\/\/[^\s]+$/i.test(url) ? url : null;
  }

  function link(url, text) {
    var a = el("a", "", text);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function addMessage(className, text) {
    var node = el("div", "hc-msg " + className, text);
    log.appendChild(node);
    scrollDown();
    return node;
  }

  // Answer text with each "[n]" turned into a link to its source.
  function answerParagraphs(text, cid) {
    var out = document.createDocumentFragment();
    text.split(/\n{2,}/).forEach(function (para) {
      var p = el("p");
      var parts = para.split(/(\[\d+\])/);
      parts.forEach(function (part) {
        var m = /^\[(\d+)\]$/.exec(part);
        if (m) {
          var a = el("a", "hc-ref", "[" + m[1] + "]");
          a.href = "#" + cid + "-" + m[1];
          p.appendChild(a);
        } else if (part) {
          p.appendChild(document.createTextNode(part));
        }
      });
      out.appendChild(p);
    });
    return out;
  }

  // Paragraph and list breaks of the article stay (the blockquote shows them), so list
  // items don't run together; other runs of spaces fold.
  function flat(text) {
    return text.replace(/[ \t]*\n\s*/g, "\n").replace(/[ \t]+/g, " ");
  }

  function quoteInContext(citation) {
    var bq = el("blockquote");
    var at = citation.passage.indexOf(citation.quote);
    if (at < 0) {
      bq.appendChild(el("mark", "", flat(citation.quote)));
      return bq;
    }
    var end = at + citation.quote.length;
    var before = citation.passage.slice(Math.max(0, at - CONTEXT), at);
    var after = citation.passage.slice(end, end + CONTEXT);
    bq.appendChild(document.createTextNode((at > CONTEXT ? "…" : "") + flat(before)));
    bq.appendChild(el("mark", "", flat(citation.quote)));
    bq.appendChild(
      document.createTextNode(flat(after) + (end + CONTEXT < citation.passage.length ? "…" : ""))
    );
    return bq;
  }

  // A source as a visitor reads it: the article (a link when it has a web address), its
  // section, the quote in its passage; the file and offsets folded away for coaches.
  function sourcesList(citations, cid) {
    var box = el("div", "hc-sources");
    box.appendChild(el("h3", "", "Sources"));
    var list = el("ol");
    citations.forEach(function (c) {
      var li = el("li");
      li.id = cid + "-" + c.n;
      var title = el("div", "hc-source-title", "[" + c.n + "] ");
      var url = webAddress(c.url);
      title.appendChild(url ? link(url, c.title) : document.createTextNode(c.title));
      if (c.section && c.section !== c.title) {
        title.appendChild(el("span", "hc-source-section", " — " + c.section));
      }
      li.appendChild(title);
      li.appendChild(quoteInContext(c));
      var where = el("details", "hc-source-where");
      where.appendChild(el("summary", "", "Where in the file"));
      where.appendChild(
        document.createTextNode(c.source + ", characters " + c.start + "–" + c.end)
      );
      li.appendChild(where);
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  // A thumb icon drawn as SVG: emoji fonts are not everywhere.
  var THUMB =
    "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 " +
    "7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z";
  function thumb(down) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    if (down) svg.setAttribute("transform", "rotate(180)");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMB);
    svg.appendChild(path);
    return svg;
  }

  function ratingRow(answerId) {
    var row = el("div", "hc-rate");
    var label = el("span", "", "Was this helpful?");
    row.appendChild(label);
    [
      ["up", "Helpful"],
      ["down", "Not helpful"],
    ].forEach(function (spec) {
      var b = el("button", "hc-rate-" + spec[0]);
      b.appendChild(thumb(spec[0] === "down"));
      b.type = "button";
      b.setAttribute("aria-label", spec[1]);
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", function () {
        rate(answerId, spec[0], row, label);
      });
      row.appendChild(b);
    });
    return row;
  }

  function rate(answerId, rating, row, label) {
    fetch("api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: answerId, rating: rating }),
    })
      .then(function (r) {
        if (!r.ok) throw new Error("status " + r.status);
        row.querySelectorAll("button").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b.className === "hc-rate-" + rating));
        });
        label.textContent = "Thanks for the feedback.";
      })
      .catch(function () {
        label.textContent = "Couldn't save that; try again.";
      });
  }

  // Where a refused question about prices, hours or booking can be asked instead.
  function contactLine() {
    var contact = config.contact;
    var p = el("p", "hc-contact", "For prices, hours and booking, ask the front desk: " + contact.text);
    var url = webAddress(contact.url);
    if (url) {
      p.appendChild(document.createTextNode(" — "));
      p.appendChild(link(url, contact.url));
    } else if (contact.phone) {
      p.appendChild(document.createTextNode(" — "));
      var call = el("a", "", contact.phone);
      call.href = "tel:" + contact.phone.replace(/[^0-9+]/g, "");
      p.appendChild(call);
    }
    return p;
  }

  var counter = 0;
  function showAnswer(data, answerId, question) {
    var cid = "hc-a" + ++counter;
    var node = addMessage("hc-bot");
    node.appendChild(answerParagraphs(data.answer, cid));
    var desk = config.contact && data.abstained && data.refusal_topic === GYM_BUSINESS;
    if (desk) node.appendChild(contactLine());
    announce(node.innerText);
    if (data.citations && data.citations.length) node.appendChild(sourcesList(data.citations, cid));
    if (answerId) node.appendChild(ratingRow(answerId));
    // Show the question and the start of its answer, not the end of the sources.
    log.scrollTop = question.offsetTop - 8;
  }

  function ask(question) {
    question = question.trim();
    if (!question) return;
    var mine = addMessage("hc-user", question);
    var waiting = addMessage("hc-bot hc-thinking", "Looking in the articles…");
    send.disabled = true;
    var body = { question: question, history: asked.slice(-10), cited: lastCited };
    fetch("api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    })
      .then(function (r) {
        return r.json().then(function (data) {
          return { ok: r.ok, data: data, id: r.headers.get("X-Answer-Id") };
        });
      })
      .then(function (res) {
        waiting.remove();
        if (!res.ok) {
          var text = "Sorry, " + (res.data.error || "something went wrong.");
          addMessage("hc-error", text);
          announce(text);
          return;
        }
        asked.push(question);
        lastCited = (res.data.citations || []).map(function (c) {
          return { source: c.source, start: c.start, end: c.end };
        });
        showAnswer(res.data, res.id, mine);
      })
      .catch(function () {
        waiting.remove();
        addMessage("hc-error", "Sorry, the coach can't be reached right now.");
        announce("Sorry, the coach can't be reached right now.");
      })
      .finally(function () {
        send.disabled = false;
        box.focus();
      });
  }

  function welcome() {
    if (config.welcome) addMessage("hc-bot", config.welcome);
    if (config.examples && config.examples.length) {
      var chips = el("div", "hc-examples");
      config.examples.forEach(function (q) {
        var b = el("button", "", q);
        b.type = "button";
        b.addEventListener("click", function () {
          chips.remove();
          ask(q);
        });
        chips.appendChild(b);
      });
      log.appendChild(chips);
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var q = box.value;
    box.value = "";
    ask(q);
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // In the widget's panel: the widget asks for focus when it opens, and Escape (pressed
  // here, in the chat's own document) asks the widget to close.
  window.addEventListener("message", function (event) {
    if (event.source === window.parent && event.data && event.data.hingeCoach === "focus") {
      box.focus();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && window.parent !== window) {
      window.parent.postMessage({ hingeCoach: "close" }, "*");
    }
  });
  welcome();
})();
