/* toolgym report: outcome grid, filters and trajectory viewer.
 *
 * All run data lives in <script type="application/json"> blocks and is put
 * on the page with textContent / createElement only: nothing a model or a
 * user wrote is ever parsed as HTML. Trajectories are parsed on demand.
 */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function add(parent, child) { parent.appendChild(child); return child; }

  function readJSON(id) {
    var node = $(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined) { return "\u2014"; }
    if (typeof v === "number") { return v.toFixed(digits === undefined ? 3 : digits); }
    return String(v);
  }

  function pretty(v) {
    try { return JSON.stringify(v, null, 2); } catch (e) { return String(v); }
  }

  var meta = readJSON("tg-meta");
  var runs = meta.runs;
  var TERMS = meta.terminations;
  var CATS = meta.categories;
  var rowsCache = {};
  var stringsCache = {};
  var cellsByRun = {};
  var current = null;

  function rows(ri) {
    if (!rowsCache[ri]) { rowsCache[ri] = readJSON("tg-rows-" + ri) || []; }
    return rowsCache[ri];
  }

  function strings(ri) {
    if (!stringsCache[ri]) { stringsCache[ri] = readJSON("tg-s-" + ri) || []; }
    return stringsCache[ri];
  }

  function rewardColor(row) {
    var reward = row[2];
    if (TERMS[row[3]] === "model_error" || TERMS[row[3]] === "cancelled") { return "#5b3a8c"; }
    if (reward === null) { return "#9aa0a6"; }
    var r = Math.max(0, Math.min(1, reward));
    return "hsl(" + Math.round(r * 120) + ", 62%, " + (r >= 0.999 ? 38 : 46) + "%)";
  }

  function describe(ri, row) {
    var cats = [];
    for (var b = 0; b < CATS.length; b++) {
      if (row[4] & (1 << b)) { cats.push(CATS[b][1]); }
    }
    return runs[ri].label + " \u00b7 task " + row[0] + " \u00b7 trial " + row[1] +
      "\nreward " + fmt(row[2]) + " \u00b7 " + TERMS[row[3]] +
      (cats.length ? "\n" + cats.join(", ") : "");
  }

  /* ---------------------------------------------------------------- grid */

  function buildGrid(ri) {
    var host = $("tg-grid-" + ri);
    if (!host) { return; }
    var data = rows(ri);
    var trials = Math.max(runs[ri].trials, 1);
    var frag = document.createDocumentFragment();
    var head = add(frag, el("div", "grow ghead"));
    add(head, el("span", "gtask", "task \\ trial"));
    for (var t = 0; t < trials; t++) { add(head, el("span", "cell hcell", t)); }
    var cells = [];
    var line = null;
    var slots = null;
    var lastTask = null;
    for (var i = 0; i < data.length; i++) {
      var row = data[i];
      if (row[0] !== lastTask) {
        lastTask = row[0];
        line = add(frag, el("div", "grow"));
        line.dataset.task = String(row[0]);
        var name = add(line, el("span", "gtask", row[0]));
        name.title = String(row[0]);
        slots = [];
        for (var s = 0; s < trials; s++) { slots.push(add(line, el("span", "cell missing"))); }
        line._cells = [];
      }
      var cell = slots[row[1]];
      if (!cell) { cell = add(line, el("span", "cell")); }
      cell.className = "cell";
      cell.style.backgroundColor = rewardColor(row);
      cell.dataset.i = String(i);
      cell.title = describe(ri, row);
      if (row[5]) { cell.classList.add("ok"); }
      line._cells.push(cell);
      cells.push(cell);
    }
    host.appendChild(frag);
    host.addEventListener("click", function (ev) {
      var target = ev.target;
      if (target && target.dataset && target.dataset.i !== undefined) {
        var r = rows(ri)[Number(target.dataset.i)];
        setHash(ri, r[0], r[1]);
      }
    });
    cellsByRun[ri] = cells;
  }

  function filters() {
    var term = $("tg-f-term").value;
    var cat = $("tg-f-cat").value;
    return {
      failed: $("tg-f-failed").checked,
      task: $("tg-f-task").value.trim().toLowerCase(),
      term: term === "" ? -1 : Number(term),
      cat: cat === "" ? 0 : (1 << Number(cat))
    };
  }

  function matches(row, f) {
    if (f.failed && row[5]) { return false; }
    if (f.term >= 0 && row[3] !== f.term) { return false; }
    if (f.cat && !(row[4] & f.cat)) { return false; }
    if (f.task && String(row[0]).toLowerCase().indexOf(f.task) < 0) { return false; }
    return true;
  }

  function applyFilters() {
    var f = filters();
    var shown = 0;
    var total = 0;
    for (var ri = 0; ri < runs.length; ri++) {
      var host = $("tg-grid-" + ri);
      if (!host) { continue; }
      var data = rows(ri);
      var lines = host.querySelectorAll(".grow[data-task]");
      for (var li = 0; li < lines.length; li++) {
        var line = lines[li];
        var any = false;
        for (var ci = 0; ci < line._cells.length; ci++) {
          var cell = line._cells[ci];
          var ok = matches(data[Number(cell.dataset.i)], f);
          cell.classList.toggle("dim", !ok);
          if (ok) { any = true; shown++; }
          total++;
        }
        line.hidden = !any;
      }
    }
    $("tg-f-count").textContent = shown + " of " + total + " rollouts match";
  }

  function setupFilters() {
    var term = $("tg-f-term");
    var used = {};
    for (var ri = 0; ri < runs.length; ri++) {
      var data = rows(ri);
      for (var i = 0; i < data.length; i++) { used[data[i][3]] = true; }
    }
    for (var ti = 0; ti < TERMS.length; ti++) {
      if (!used[ti]) { continue; }
      var opt = add(term, el("option", null, TERMS[ti]));
      opt.value = String(ti);
    }
    var cat = $("tg-f-cat");
    for (var c = 0; c < CATS.length; c++) {
      var o = add(cat, el("option", null, CATS[c][1]));
      o.value = String(c);
    }
    ["tg-f-failed", "tg-f-term", "tg-f-cat"].forEach(function (id) {
      $(id).addEventListener("change", applyFilters);
    });
    $("tg-f-task").addEventListener("input", applyFilters);
  }

  /* ------------------------------------------------------------ navigation */

  function setHash(ri, task, trial) {
    var h = "open=" + encodeURIComponent(String(task)) + ":" + trial;
    if (ri > 0) { h += "&run=" + ri; }
    if (location.hash.slice(1) === h) { openFromHash(); } else { location.hash = h; }
  }

  function clearHash() {
    try {
      history.replaceState(null, "", location.pathname + location.search);
    } catch (e) {
      location.hash = "";
    }
  }

  function openFromHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    var key = params.get("open");
    if (!key) { closeViewer(false); return; }
    var ri = Number(params.get("run") || "0");
    if (!(ri >= 0 && ri < runs.length)) { ri = 0; }
    var cut = key.lastIndexOf(":");
    var task = cut >= 0 ? key.slice(0, cut) : key;
    var trial = cut >= 0 ? Number(key.slice(cut + 1)) : 0;
    var data = rows(ri);
    for (var i = 0; i < data.length; i++) {
      if (String(data[i][0]) === task && data[i][1] === trial) { openRollout(ri, i); return; }
    }
    showMessage("No rollout " + task + ":" + trial + " in run " + runs[ri].label + ".");
  }

  function step(delta) {
    if (!current) { return; }
    var f = filters();
    var data = rows(current.ri);
    for (var i = current.i + delta; i >= 0 && i < data.length; i += delta) {
      if (matches(data[i], f)) { setHash(current.ri, data[i][0], data[i][1]); return; }
    }
  }

  /* --------------------------------------------------------------- viewer */

  function viewerBody() {
    var panel = $("tg-viewer");
    panel.hidden = false;
    document.body.classList.add("viewing");
    var body = $("tg-viewer-body");
    body.textContent = "";
    return body;
  }

  function showMessage(text) {
    add(viewerBody(), el("p", "note", text));
  }

  function closeViewer(updateHash) {
    $("tg-viewer").hidden = true;
    document.body.classList.remove("viewing");
    if (current) {
      var prev = document.querySelector(".cell.current");
      if (prev) { prev.classList.remove("current"); }
    }
    current = null;
    if (updateHash) { clearHash(); }
  }

  function badge(parent, text, cls) { return add(parent, el("span", "badge " + (cls || ""), text)); }

  function openRollout(ri, i) {
    var node = $("tg-t-" + ri + "-" + i);
    if (!node) { showMessage("Trajectory data missing."); return; }
    var t = JSON.parse(node.textContent);
    var body = viewerBody();
    var prev = document.querySelector(".cell.current");
    if (prev) { prev.classList.remove("current"); }
    var cells = cellsByRun[ri];
    if (cells) {
      for (var c = 0; c < cells.length; c++) {
        if (Number(cells[c].dataset.i) === i) { cells[c].classList.add("current"); break; }
      }
    }
    current = { ri: ri, i: i };
    renderTrajectory(body, ri, t);
    $("tg-viewer").scrollTop = 0;
  }

  function renderTrajectory(body, ri, t) {
    add(body, el("h2", "vtitle", "Run " + runs[ri].label + " \u00b7 task " + t.task_id +
      " \u00b7 trial " + t.trial));
    var facts = add(body, el("div", "facts"));
    var ok = t.reward !== null && t.reward >= 1 - 1e-6;
    badge(facts, "reward " + fmt(t.reward), ok ? "good" : (t.reward === null ? "grey" : "bad"));
    badge(facts, t.termination);
    badge(facts, "status " + (t.breakdown.status || "ok"));
    badge(facts, t.steps + " steps");
    badge(facts, fmt(t.timings.duration_s, 2) + " s");
    badge(facts, "seed " + t.seed);
    (t.categories || []).forEach(function (k) {
      CATS.forEach(function (c) { if (c[0] === k) { badge(facts, c[1], "bad"); } });
    });
    if (t.error) { add(body, el("pre", "errortext", t.error)); }
    renderUsage(body, t.usage);
    renderBreakdown(body, t.breakdown);
    var byTurn = {};
    var general = [];
    (t.annotations || []).forEach(function (a) {
      var turn = a && typeof a.turn === "number" ? a.turn : null;
      if (turn === null) { general.push(a); } else { (byTurn[turn] = byTurn[turn] || []).push(a); }
    });
    (t.breakdown.nl_assertions || []).forEach(function (n) {
      if (typeof n.turn === "number") {
        (byTurn[n.turn] = byTurn[n.turn] || []).push({
          judge: "NL assertion", verdict: n.met, text: n.assertion +
            (n.justification ? "\n\u2014 " + n.justification : "")
        });
      }
    });
    if (general.length) {
      add(body, el("h3", null, "Annotations"));
      general.forEach(function (a) { add(body, annotation(a)); });
    }
    add(body, el("h3", null, "Conversation (" + t.messages.length + " messages)"));
    var list = add(body, el("div", "msgs"));
    t.messages.forEach(function (m, idx) {
      list.appendChild(message(ri, m, idx));
      (byTurn[idx] || []).forEach(function (a) { list.appendChild(annotation(a)); });
    });
    Object.keys(byTurn).forEach(function (k) {
      if (Number(k) >= t.messages.length || Number(k) < 0) {
        byTurn[k].forEach(function (a) { list.appendChild(annotation(a)); });
      }
    });
  }

  function annotation(a) {
    var box = el("div", "annot");
    var head = add(box, el("div", "ahead"));
    var who = (a && a.judge) ? String(a.judge) : "annotation";
    add(head, el("strong", null, who));
    if (a && a.verdict !== undefined && a.verdict !== null) {
      var v = a.verdict;
      var cls = v === true || v === "pass" || v === "met" ? "good" : (v === false || v === "fail" ? "bad" : "");
      badge(head, typeof v === "string" ? v : JSON.stringify(v), cls);
    }
    if (a && typeof a.turn === "number") { add(head, el("span", "muted", " at message #" + a.turn)); }
    var text = a && a.text !== undefined ? a.text : a;
    add(box, el("div", "text", typeof text === "string" ? text : pretty(text)));
    return box;
  }

  function message(ri, m, idx) {
    var box = el("div", "msg role-" + m.role + (m.error ? " error" : ""));
    box.id = "tg-m-" + idx;
    var head = add(box, el("div", "mhead"));
    add(head, el("span", "idx", "#" + idx));
    add(head, el("span", "role", m.role + (m.name ? " \u00b7 " + m.name : "")));
    if (m.error) { badge(head, "error", "bad"); }
    if (m.sim && typeof m.sim === "object") {  // a simulated tool's result
      badge(head, "simulated", "grey");
      if (m.sim.injected) { badge(head, "injected: " + String(m.sim.injected), "bad"); }
      if (m.sim.cache) { badge(head, "cache " + String(m.sim.cache), m.sim.cache === "hit" ? "good" : "grey"); }
    }
    if (typeof m.turn === "number") { add(head, el("span", "muted", "turn " + m.turn)); }
    if (typeof m.latency_s === "number") { add(head, el("span", "muted", fmt(m.latency_s, 2) + " s")); }
    if (m.usage) {
      add(head, el("span", "muted", (m.usage.prompt_tokens || 0) + "+" +
        (m.usage.completion_tokens || 0) + " tok"));
    }
    if (typeof m.reasoning === "string" && m.reasoning) {
      var why = add(box, el("details", "reasoning"));
      add(why, el("summary", null, "reasoning (" + m.reasoning.length + " chars)"));
      add(why, el("div", "text muted", m.reasoning));
    }
    var content = m.content;
    if (content && typeof content === "object") { content = strings(ri)[content.s]; }
    if (content !== undefined && content !== null) {
      if (m.role === "system") {
        var det = add(box, el("details"));
        add(det, el("summary", null, "system prompt (" + content.length + " chars)"));
        add(det, el("div", "text", content));
      } else {
        // Shown byte for byte: re-serialising JSON would change number formats (100.0 -> 100).
        add(box, el("div", "text", content));
      }
    }
    (m.tool_calls || []).forEach(function (c) {
      var call = add(box, el("div", "call"));
      var ch = add(call, el("div", "chead"));
      add(ch, el("span", "fn", c.name));
      if (c.id) { add(ch, el("span", "muted", "id " + c.id)); }
      if (c.parse_error) {
        badge(ch, "unparseable arguments", "bad");
        add(call, el("pre", "args", c.raw_arguments || ""));
        add(call, el("div", "errortext", c.parse_error));
      } else {
        add(call, el("pre", "args", pretty(c.arguments || {})));
      }
    });
    return box;
  }

  function renderUsage(body, usage) {
    var roles = Object.keys(usage || {});
    if (!roles.length) { return; }
    var tbl = add(body, el("table", "small"));
    var hr = add(tbl, el("tr"));
    ["role", "calls", "prompt tok", "completion tok", "cost"].forEach(function (h) {
      add(hr, el("th", null, h));
    });
    roles.forEach(function (r) {
      var u = usage[r];
      var tr = add(tbl, el("tr"));
      [r, u.calls, u.prompt_tokens, u.completion_tokens,
        u.cost === null || u.cost === undefined ? (u.calls ? "unknown" : "0") : "$" + u.cost.toFixed(4)
      ].forEach(function (v) { add(tr, el("td", null, v)); });
    });
  }

  function check(parent, ok, text) {
    var row = add(parent, el("div", "check " + (ok === true ? "pass" : ok === false ? "fail" : "unk")));
    add(row, el("span", "mark", ok === true ? "\u2713" : ok === false ? "\u2717" : "?"));
    add(row, el("span", null, text));
    return row;
  }

  function renderBreakdown(body, b) {
    add(body, el("h3", null, "Evaluation"));
    var box = add(body, el("div", "breakdown"));
    var comps = add(box, el("div", "facts"));
    var basis = b.reward_basis || [];
    Object.keys(b.components || {}).forEach(function (k) {
      var v = b.components[k];
      var inBasis = basis.indexOf(k) >= 0;
      badge(comps, k + " = " + fmt(v, 2) + (inBasis ? "" : " (diagnostic)"),
        v === null ? "grey" : (v >= 1 - 1e-6 ? "good" : "bad"));
    });
    (b.notes || []).forEach(function (n) { add(box, el("div", "note", n)); });
    if (b.db) {
      add(box, el("h4", null, "Database"));
      check(box, b.db.match, b.db.match ? "final DB matches the gold DB" : "final DB differs from the gold DB");
      (b.db.gold_errors || []).forEach(function (g) { add(box, el("div", "note", "gold replay error: " + g)); });
      if (b.db.diff && b.db.diff.length) { add(box, dbDiff(b.db.diff)); }
    }
    if (b.actions && b.actions.length) {
      add(box, el("h4", null, "Gold actions"));
      b.actions.forEach(function (a) {
        var row = check(box, a.matched, a.name + (a.action_id ? " [" + a.action_id + "]" : ""));
        var det = add(row, el("details"));
        add(det, el("summary", null, "arguments"));
        add(det, el("pre", "args", pretty(a.arguments)));
        if (!a.matched && a.closest) {
          add(det, el("div", "muted", "closest call (differs in: " + (a.differing_args || []).join(", ") + ")"));
          add(det, el("pre", "args", pretty(a.closest)));
        }
      });
    }
    if (b.communicate && b.communicate.length) {
      add(box, el("h4", null, "Information to communicate"));
      b.communicate.forEach(function (c) { check(box, c.found, c.info); });
    }
    if (b.nl_assertions && b.nl_assertions.length) {
      add(box, el("h4", null, "NL assertions"));
      b.nl_assertions.forEach(function (n) {
        var row = check(box, n.met === undefined ? null : n.met, n.assertion);
        if (n.justification) { add(row, el("div", "muted", n.justification)); }
        if (typeof n.turn === "number") { add(row, el("span", "muted", " (message #" + n.turn + ")")); }
      });
    }
    if (b.env_assertions && b.env_assertions.length) {
      add(box, el("h4", null, "Environment assertions"));
      b.env_assertions.forEach(function (e) {
        var row = check(box, e.met, e.func_name + "(" + JSON.stringify(e.arguments || {}) + ")");
        add(row, el("div", "muted", "expected " + JSON.stringify(e.expected) + ", got " +
          JSON.stringify(e.actual) + (e.message ? " \u2014 " + e.message : "")));
      });
    }
  }

  function flatten(v, path, out) {
    if (v !== null && typeof v === "object") {
      var keys = Array.isArray(v) ? v.map(function (_, i) { return i; }) : Object.keys(v);
      if (!keys.length) { out.push([path, JSON.stringify(v)]); return; }
      keys.forEach(function (k) {
        var p = Array.isArray(v) ? path + "[" + k + "]" : (path ? path + "." + k : String(k));
        flatten(v[k], p, out);
      });
    } else {
      out.push([path, JSON.stringify(v)]);
    }
  }

  function dbDiff(entries) {
    var box = el("div", "dbdiff");
    add(box, el("div", "muted", "\u2212 expected (gold)   + predicted (agent)"));
    entries.forEach(function (d) {
      var rec = add(box, el("div", "drec"));
      add(rec, el("div", "dkey", String(d.table) + "[" + JSON.stringify(d.key) + "]"));
      var pre = add(rec, el("pre", "dlines"));
      if (d.predicted === null || d.predicted === undefined) {
        add(pre, el("span", "dnote", "record missing from the predicted DB\n"));
      }
      if (d.expected === null || d.expected === undefined) {
        add(pre, el("span", "dnote", "record not in the gold DB (added by the agent)\n"));
      }
      var exp = []; var got = [];
      if (d.expected !== null && d.expected !== undefined) { flatten(d.expected, "", exp); }
      if (d.predicted !== null && d.predicted !== undefined) { flatten(d.predicted, "", got); }
      var gmap = {}; var emap = {};
      got.forEach(function (p) { gmap[p[0]] = p[1]; });
      exp.forEach(function (p) { emap[p[0]] = p[1]; });
      var same = 0;
      var shown = 0;
      exp.forEach(function (p) {
        if (gmap[p[0]] === p[1]) { same++; return; }
        shown++;
        add(pre, el("span", "del", "- " + (p[0] || "(value)") + ": " + p[1] + "\n"));
        if (p[0] in gmap) { add(pre, el("span", "ins", "+ " + (p[0] || "(value)") + ": " + gmap[p[0]] + "\n")); }
      });
      got.forEach(function (p) {
        if (!(p[0] in emap)) {
          shown++;
          add(pre, el("span", "ins", "+ " + (p[0] || "(value)") + ": " + p[1] + "\n"));
        }
      });
      if (!shown && exp.length && got.length) {
        // JSON numbers lose their int/float distinction in the browser (100.0 reads as 100).
        add(pre, el("span", "dnote", "no visible difference: the values differ only in " +
          "number type (e.g. 100 vs 100.0) or encoding\n"));
      }
      if (same) { add(pre, el("span", "dnote", same + " identical field" + (same > 1 ? "s" : "") + " not shown\n")); }
    });
    return box;
  }

  /* ----------------------------------------------------------------- live */

  function setupLive() {
    var live = meta.live;
    if (!live || !live.poll || !window.fetch) { return; }
    setInterval(function () {
      fetch("/version", { cache: "no-store" }).then(function (r) { return r.json(); })
        .then(function (v) { if (v.version !== live.version) { location.reload(); } })
        .catch(function () { /* server gone: keep the page as it is */ });
    }, Math.max(500, live.refresh_s * 1000));
  }

  /* ---------------------------------------------------------------- start */

  for (var ri = 0; ri < runs.length; ri++) { buildGrid(ri); }
  setupFilters();
  applyFilters();
  $("tg-close").addEventListener("click", function () { closeViewer(true); });
  $("tg-prev").addEventListener("click", function () { step(-1); });
  $("tg-next").addEventListener("click", function () { step(1); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && current) { closeViewer(true); }
  });
  window.addEventListener("hashchange", openFromHash);
  openFromHash();
  setupLive();
  document.body.setAttribute("data-render-ms", performance.now().toFixed(1));
}());
