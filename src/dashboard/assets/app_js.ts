/**
 * The dashboard's script, as a string the server sends (so the binary carries it). Plain DOM, no
 * library: two views (the list at `/`, a task at `/tasks/ID`), each fed by one server-sent event
 * stream; every text goes in through textContent, never as HTML. It is written without template
 * literals so that it can live inside this one.
 *
 * @module
 */

export const APP_JS = String.raw`"use strict";
(function () {
  var CSRF = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  var current = null; // the open view: { close() }
  var ACTIVE = { queued: true, working: true };
  var WORDS = { queued: "queued", working: "working", completed: "completed", failed: "failed",
    cancelled: "cancelled", timed_out: "timed out", interrupted: "interrupted" };

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var key in attrs) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) continue;
        if (key === "text") node.textContent = value;
        else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : value);
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function setLive(text, down) {
    live.textContent = text;
    live.className = down ? "live down" : "live";
  }

  function toast(text) {
    var node = el("div", { class: "toast", role: "alert", text: text });
    document.body.appendChild(node);
    setTimeout(function () { node.remove(); }, 5000);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    if (h > 0) return h + "h " + (m < 10 ? "0" : "") + m + "m";
    if (m > 0) return m + "m " + (s < 10 ? "0" : "") + s + "s";
    return s + "s";
  }

  function when(ms) {
    return ms === null || ms === undefined ? "—" : new Date(ms).toLocaleString();
  }

  function statusBadge(status) {
    return el("span", { class: "status s-" + status, "data-status": status, text: WORDS[status] || status });
  }

  function progressBar(progress) {
    if (!progress) return el("div", { class: "bar" });
    var percent = progress.percent;
    var label;
    if (progress.current !== undefined && progress.total !== undefined) {
      label = progress.current + "/" + progress.total;
      if (percent === undefined && progress.total > 0) percent = 100 * progress.current / progress.total;
    }
    if (percent !== undefined) label = (label ? label + " · " : "") + Math.round(percent) + "%";
    if (progress.message) label = (label ? label + " " : "") + progress.message;
    var bar = el("div", { class: "progress", role: "progressbar", "aria-valuemin": "0",
      "aria-valuemax": "100", "aria-valuenow": percent === undefined ? null : String(Math.round(percent)),
      "aria-label": "progress " + (label || "") },
      el("span", { class: "fill", style: null }),
      el("span", { class: "text", text: label || "" }));
    bar.firstChild.style.width = (percent === undefined ? 0 : Math.min(100, Math.max(0, percent))) + "%";
    return el("div", { class: "bar" }, bar);
  }

  // Clocks: durations and silences tick here, from the server's numbers and its clock offset.
  var skew = 0;
  var ticking = [];
  setInterval(function () { ticking.forEach(function (f) { f(); }); }, 1000);
  function clock(fn) { fn(); ticking.push(fn); }
  function resetClocks() { ticking = []; }
  function serverNow() { return Date.now() + skew; }

  function rowDuration(row) {
    if (row.started_at === null) return null;
    var end = row.ended_at !== null ? row.ended_at : (row.status === "working" ? serverNow() : null);
    return end === null ? null : (end - row.started_at) / 1000;
  }

  function open(stream, handlers) {
    var source = new EventSource(stream);
    source.onopen = function () { setLive("live"); };
    source.onerror = function () { setLive("reconnecting…", true); };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (event) { handlers[name](JSON.parse(event.data)); });
    });
    return source;
  }

  async function post(path) {
    var response = await fetch(path, { method: "POST", headers: { "x-csrf-token": CSRF } });
    var body = await response.json().catch(function () { return {}; });
    if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
    return body;
  }

  function confirmThen(question, detail, action, run) {
    var dialog = el("dialog", { "aria-labelledby": "confirm-title" });
    var yes = el("button", { class: "danger", type: "button", "data-confirm": "yes", text: action });
    var no = el("button", { type: "button", text: "Keep it", autofocus: true });
    dialog.appendChild(el("h2", { id: "confirm-title", text: question }));
    dialog.appendChild(el("p", { text: detail }));
    dialog.appendChild(el("div", { class: "buttons" }, no, yes));
    no.addEventListener("click", function () { dialog.close(); });
    yes.addEventListener("click", async function () {
      yes.disabled = true;
      try { await run(); } catch (error) { toast(error.message); }
      dialog.close();
    });
    dialog.addEventListener("close", function () { dialog.remove(); });
    document.body.appendChild(dialog);
    dialog.showModal();
  }

  // ---------------------------------------------------------------- the list
  function listView() {
    var params = new URLSearchParams(location.search);
    var cursors = [];
    var source = null;
    var statusSelect = el("select", { id: "f-status", name: "status" }, el("option", { value: "", text: "any status" }));
    Object.keys(WORDS).forEach(function (s) { statusSelect.appendChild(el("option", { value: s, text: WORDS[s] })); });
    statusSelect.value = params.get("status") || "";
    var text = el("input", { id: "f-q", type: "search", name: "q", placeholder: "command, label or id", value: params.get("q") || "" });
    var label = el("input", { id: "f-label", name: "label", placeholder: "exact label", value: params.get("label") || "" });
    var queue = el("input", { id: "f-queue", name: "queue", placeholder: "queue name", value: params.get("queue") || "" });
    var filters = el("form", { class: "filters", role: "search", onsubmit: function (e) { e.preventDefault(); apply(); } },
      el("label", { class: "wide", for: "f-q" }, "Search", text),
      el("label", { for: "f-status" }, "Status", statusSelect),
      el("label", { for: "f-label" }, "Label", label),
      el("label", { for: "f-queue" }, "Queue", queue));
    var count = el("span", { id: "count" });
    var list = el("ul", { class: "tasks", id: "tasks", "aria-label": "tasks, newest first" });
    var newer = el("button", { type: "button", id: "newer", text: "← Newest", onclick: function () { cursors = []; connect(); } });
    var older = el("button", { type: "button", id: "older", text: "Older →" });
    var nextCursor = null;
    older.addEventListener("click", function () { if (nextCursor) { cursors.push(nextCursor); connect(); } });
    main.replaceChildren(el("h1", { text: "Tasks" }), filters, el("div", { class: "summary" }, count,
      el("span", { text: "newest first · updates live" })), list, el("div", { class: "pager" }, newer, older));
    var timer = null;
    [text, label, queue].forEach(function (input) {
      input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 300); });
    });
    statusSelect.addEventListener("change", apply);

    function query() {
      var q = new URLSearchParams();
      if (statusSelect.value) q.set("status", statusSelect.value);
      if (text.value.trim()) q.set("q", text.value.trim());
      if (label.value.trim()) q.set("label", label.value.trim());
      if (queue.value.trim()) q.set("queue", queue.value.trim());
      return q;
    }
    function apply() {
      cursors = [];
      var q = query().toString();
      history.replaceState(null, "", "/" + (q ? "?" + q : ""));
      connect();
    }
    function connect() {
      if (source) source.close();
      var q = query();
      if (cursors.length) q.set("before", cursors[cursors.length - 1]);
      newer.disabled = cursors.length === 0;
      source = open("/api/events?" + q.toString(), { tasks: render });
    }
    function render(page) {
      skew = page.now - Date.now();
      resetClocks();
      nextCursor = page.next;
      older.disabled = !page.next;
      count.textContent = (page.total_capped ? page.total.toLocaleString() + "+" : page.total.toLocaleString()) +
        (page.total === 1 ? " task" : " tasks");
      var received = Date.now();
      var rows = page.rows.map(function (row) { return taskRow(row, received); });
      if (rows.length === 0) rows = [el("li", { class: "empty", text: "No tasks match." })];
      // Redrawn whole, but the keyboard's place is kept: the focused link is focused again.
      var focused = document.activeElement;
      var focusedRow = focused && list.contains(focused) ? focused.closest("li.row") : null;
      var focusedId = focusedRow ? focusedRow.getAttribute("data-id") : null;
      list.replaceChildren.apply(list, rows);
      if (focusedId) {
        var again = list.querySelector('li.row[data-id="' + focusedId + '"] a.title');
        if (again) again.focus({ preventScroll: true });
      }
    }
    function taskRow(row, received) {
      var dur = el("span", { class: "duration", title: "run time" });
      var silent = el("span", { class: "silent" });
      clock(function () {
        var d = rowDuration(row);
        dur.textContent = d === null ? (row.status === "queued" ? "waiting" : "") : "ran " + duration(d);
        if (row.status === "working" && row.seconds_since_output !== null && row.seconds_since_output >= 5) {
          silent.textContent = "silent " + duration(row.seconds_since_output + (Date.now() - received) / 1000);
        } else silent.textContent = "";
      });
      var title = row.label || row.command;
      return el("li", { class: "row", "data-id": row.id, "data-status": row.status },
        statusBadge(row.status),
        el("div", { class: "what" },
          el("a", { class: "title", href: "/tasks/" + row.id, title: row.command, text: title }),
          row.label ? el("div", { class: "cmd", text: row.command }) : el("div", { class: "cmd", text: row.message })),
        progressBar(row.progress),
        el("div", { class: "meta" },
          row.waiting_for_input ? el("span", { class: "warn", text: "⚠ waiting for input" }) : null,
          row.exit_code !== null && row.status !== "completed" ? el("span", { text: "exit " + row.exit_code }) : null,
          row.queue !== "default" ? el("span", { text: "queue " + row.queue }) : null,
          silent, dur));
    }
    connect();
    return { close: function () { if (source) source.close(); clearTimeout(timer); } };
  }

  // ---------------------------------------------------------------- a task
  function taskView(id) {
    var source = null;
    var offset = 0;
    var task = null;
    var follow = true;
    var title = el("h1", {}, el("span", { text: "Task " + id }));
    var actions = el("div", { class: "actions" });
    var facts = el("dl", { class: "facts" });
    var bar = el("div");
    var output = el("pre", { class: "output", id: "output", tabindex: "0", "aria-label": "output", "aria-live": "off" });
    var skipped = el("p", { class: "note", id: "skipped" });
    var followBox = el("input", { type: "checkbox", id: "follow", checked: true });
    followBox.addEventListener("change", function () { follow = followBox.checked; if (follow) output.scrollTop = output.scrollHeight; });
    var download = el("a", { href: "/api/tasks/" + id + "/log", download: "backburner-" + id + ".log", text: "Download raw log" });
    var pattern = el("input", { id: "grep", type: "search", placeholder: "regular expression", "aria-label": "grep pattern" });
    var context = el("select", { id: "grep-context", "aria-label": "lines of context" });
    [0, 1, 2, 3, 5, 10].forEach(function (n) { context.appendChild(el("option", { value: String(n), text: n + " lines around" })); });
    context.value = "2";
    var matches = el("div", { id: "matches" });
    var grepForm = el("form", { class: "grep", role: "search", onsubmit: function (e) { e.preventDefault(); grep(); } },
      pattern, context, el("button", { type: "submit", text: "Grep" }));
    main.replaceChildren(
      el("p", {}, el("a", { href: "/", text: "← All tasks" })),
      el("div", { class: "output-head" }, title, actions),
      el("section", { class: "card", "aria-label": "about the task" }, facts, bar),
      el("section", { class: "card", "aria-label": "output" },
        el("div", { class: "output-head" }, el("h2", { text: "Output" }),
          el("label", {}, followBox, " follow"), download),
        skipped, output),
      el("section", { class: "card", "aria-label": "search the output" }, el("h2", { text: "Grep" }), grepForm, matches));
    output.addEventListener("scroll", function () {
      var atEnd = output.scrollHeight - output.scrollTop - output.clientHeight < 8;
      if (follow !== atEnd) { follow = atEnd; followBox.checked = atEnd; }
    });

    function fact(name, value, mono) {
      return [el("dt", { text: name }), el("dd", { class: mono ? "mono" : null }, value)];
    }
    var shownKey = null;
    var received = 0;
    function renderTask(detail) {
      skew = detail.now - Date.now();
      task = detail.task;
      received = Date.now();
      bar.replaceChildren(progressBar(task.progress));
      // What changes with the output (progress, silence) is drawn above; the rest, buttons
      // included, only when it changed, so a button is never swapped under a click.
      var key = JSON.stringify([task.status, task.waiting_for_input, task.exit_code, task.ended_at,
        task.started_at, task.status_message, task.attempt, detail.env_keys,
        task.status === "working" && task.seconds_since_output !== null && task.seconds_since_output >= 2]);
      if (key === shownKey) return;
      shownKey = key;
      resetClocks();
      document.title = (task.label || task.task_id) + " — backburner";
      title.replaceChildren(statusBadge(task.status), el("span", { text: task.label || ("Task " + task.task_id) }));
      if (task.waiting_for_input) title.appendChild(el("span", { class: "warn", text: "⚠ waiting for input" }));
      var buttons = [];
      if (ACTIVE[task.status]) {
        buttons.push(el("button", { type: "button", class: "danger", id: "cancel", text: "Cancel…", onclick: function () {
          confirmThen("Cancel this task?", "Its command and every process it started will be stopped.", "Cancel task",
            function () { return post("/api/tasks/" + id + "/cancel"); });
        } }));
      }
      buttons.push(el("button", { type: "button", id: "restart", text: "Restart…", onclick: function () {
        confirmThen("Restart this task?", "A new task runs the same command; this one is left as it is.", "Restart",
          async function () { var started = await post("/api/tasks/" + id + "/restart"); navigate("/tasks/" + started.id); });
      } }));
      actions.replaceChildren.apply(actions, buttons);
      var dur = el("span");
      var started = task.started_at ? Date.parse(task.started_at) : null;
      var ended = task.ended_at ? Date.parse(task.ended_at) : null;
      clock(function () {
        if (started === null) { dur.textContent = "—"; return; }
        dur.textContent = duration(((ended !== null ? ended : task.status === "working" ? serverNow() : started) - started) / 1000);
      });
      var rows = [].concat(
        fact("Command", el("pre", { class: "cmd", text: task.command })),
        fact("Message", task.status_message),
        fact("Directory", task.cwd, true),
        fact("Environment", detail.env_keys.length ? detail.env_keys.join(", ") : "none added", true),
        fact("Exit code", task.exit_code === null ? "—" : String(task.exit_code) + (task.signal ? " (" + task.signal + ")" : "")),
        fact("Created", when(Date.parse(task.created_at))),
        fact("Started", when(started)),
        fact("Ended", when(ended)),
        fact("Duration", dur),
        fact("Queue", task.queue + (task.attempts > 1 ? " · attempt " + task.attempt + " of " + task.attempts : "")),
        fact("Id", task.task_id, true));
      if (task.seconds_since_output !== null && task.status === "working") {
        var silent = el("span");
        clock(function () {
          silent.textContent = task.seconds_since_output === null ? "—" :
            duration(task.seconds_since_output + (Date.now() - received) / 1000) + " ago";
        });
        rows = rows.concat(fact("Last output", silent));
      }
      facts.replaceChildren.apply(facts, rows);
    }
    var lines = 0;
    function append(chunk) {
      if (chunk.skipped > 0) {
        skipped.textContent = chunk.skipped.toLocaleString() + " bytes before this are not shown: download the raw log for all of it.";
      }
      if (chunk.text) {
        output.appendChild(document.createTextNode(chunk.text));
        lines += chunk.text.split("\n").length - 1;
        // Keep the page light: the oldest shown text goes past ~5,000 lines.
        while (lines > 5000 && output.firstChild && output.childNodes.length > 1) {
          lines -= output.firstChild.textContent.split("\n").length - 1;
          output.firstChild.remove();
        }
      }
      offset = chunk.next;
      if (follow) output.scrollTop = output.scrollHeight;
    }
    async function grep() {
      if (!pattern.value) return;
      matches.replaceChildren(el("p", { class: "note", text: "searching…" }));
      var response = await fetch("/api/tasks/" + id + "/grep?pattern=" + encodeURIComponent(pattern.value) +
        "&context=" + context.value);
      var body = await response.json();
      if (!response.ok) { matches.replaceChildren(el("p", { class: "error", role: "alert", text: body.error })); return; }
      var items = body.matches.map(function (m) {
        var pre = el("pre");
        m.before.forEach(function (line, i) { pre.appendChild(el("span", { class: "ln", text: String(m.line - m.before.length + i).padStart(6) + "  " })); pre.appendChild(document.createTextNode(line + "\n")); });
        pre.appendChild(el("span", { class: "ln", text: String(m.line).padStart(6) + ": " }));
        pre.appendChild(el("mark", { class: "hit", text: m.text }));
        pre.appendChild(document.createTextNode("\n"));
        m.after.forEach(function (line, i) { pre.appendChild(el("span", { class: "ln", text: String(m.line + 1 + i).padStart(6) + "  " })); pre.appendChild(document.createTextNode(line + "\n")); });
        return el("li", {}, pre);
      });
      matches.replaceChildren(
        el("p", { class: "note", role: "status", text: body.total_matches + (body.total_matches === 1 ? " match" : " matches") + (body.note ? " — " + body.note : "") }),
        el("ul", { class: "matches" }, ...items));
    }
    (async function start() {
      var response = await fetch("/api/tasks/" + id + "/output");
      if (!response.ok) {
        var body = await response.json().catch(function () { return {}; });
        main.replaceChildren(el("p", {}, el("a", { href: "/", text: "← All tasks" })),
          el("p", { class: "error", role: "alert", text: body.error || "This task is not there." }));
        return;
      }
      append(await response.json());
      source = open("/api/tasks/" + id + "/events?offset=" + offset, {
        task: renderTask,
        output: function (chunk) { if (chunk.start >= offset || chunk.skipped > 0) append(chunk); },
        gone: function () { toast("The task was removed."); },
      });
    })();
    return { close: function () { if (source) source.close(); } };
  }

  // ---------------------------------------------------------------- routing
  function route() {
    if (current) current.close();
    resetClocks();
    var match = /^\/tasks\/([a-z0-9]+)$/.exec(location.pathname);
    current = match ? taskView(match[1]) : listView();
    main.focus({ preventScroll: true });
  }
  function navigate(path) {
    history.pushState(null, "", path);
    route();
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || link.hasAttribute("download") || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    var url = new URL(link.href);
    if (url.origin !== location.origin || !(url.pathname === "/" || url.pathname.indexOf("/tasks/") === 0)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", route);
  route();
})();
`;
