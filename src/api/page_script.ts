/**
 * The browser script of the `/services` page, embedded as a string: it
 * follows `GET /api/services/events`, renders one card per service, drives
 * start/stop/restart, and shows a live log view.
 *
 * When the API answers 401, the page asks for the API token once, keeps it in
 * `sessionStorage` (gone with the tab) and sends it as
 * `Authorization: Bearer <token>` with every request. `EventSource` cannot
 * send headers, so with a token the event streams are read with `fetch`
 * instead: the token never goes into a URL or a cookie.
 *
 * @module
 */

/** JavaScript of the page (plain ES2020, no modules, no dependencies). */
export const PAGE_SCRIPT = String.raw`
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var services = new Map(); // name -> {status, receivedAt, el, cpu: [], rss: []}
  var order = [];
  var grid = $("services");
  var banner = $("banner");
  var conn = $("conn");
  var events = null;
  var lastMetricsAt = 0;
  var LIVE = { starting: 1, running: 1, stopping: 1 };
  var WAITING = { backoff: 1, cooldown: 1 };
  var BAD = { failed: 1, cooldown: 1, backoff: 1 };
  var SPARK_POINTS = 120; // one sample every 2 s: the last 4 minutes

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24;
    var m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    if (m > 0) return m + "m " + s + "s";
    return s + "s";
  }

  function bytes(n) {
    if (n >= 1073741824) return (n / 1073741824).toFixed(1) + " GiB";
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MiB";
    if (n >= 1024) return (n / 1024).toFixed(0) + " KiB";
    return n + " B";
  }

  function spark(values) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 80 18");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    if (values.length > 1) {
      var max = Math.max.apply(null, values) || 1;
      var pts = values.map(function (v, i) {
        var x = 80 - (values.length - 1 - i) * 80 / (SPARK_POINTS - 1);
        return x.toFixed(1) + "," + (17 - (v / max) * 16).toFixed(1);
      });
      var line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("points", pts.join(" "));
      svg.appendChild(line);
    }
    return svg;
  }

  function card(name) {
    var c = {};
    c.title = el("span");
    c.name = el("small");
    c.state = el("span", { class: "state" });
    c.health = el("span", { class: "health" });
    c.healthMsg = el("span", { class: "health-msg" });
    c.pid = el("dd");
    c.uptime = el("dd");
    c.restarts = el("dd");
    c.cpu = el("dd");
    c.rss = el("dd");
    c.nextLabel = el("dt", { text: "Next start" });
    c.next = el("dd");
    c.reasonLabel = el("dt", { text: "Reason" });
    c.reason = el("dd", { class: "reason" });
    c.start = el("button", { type: "button", text: "Start", "data-action": "start" });
    c.stop = el("button", { type: "button", text: "Stop", class: "danger", "data-action": "stop" });
    c.restart = el("button", { type: "button", text: "Restart", "data-action": "restart" });
    c.logs = el("button", { type: "button", text: "Logs", "data-action": "logs" });
    c.msg = el("p", { class: "msg", role: "status" });
    var titleId = "t-" + name;
    c.title.id = titleId;
    c.root = el("article", { class: "card", "data-name": name, "aria-labelledby": titleId }, [
      el("h2", {}, [c.title, c.name]),
      el("div", { class: "badges" }, [c.state, c.health, c.healthMsg]),
      el("dl", {}, [
        el("dt", { text: "PID" }), c.pid,
        el("dt", { text: "Uptime" }), c.uptime,
        el("dt", { text: "Restarts" }), c.restarts,
        el("dt", { text: "CPU" }), c.cpu,
        el("dt", { text: "RSS" }), c.rss,
        c.nextLabel, c.next,
        c.reasonLabel, c.reason,
      ]),
      el("div", { class: "actions" }, [c.start, c.stop, c.restart, c.logs]),
      c.msg,
    ]);
    [c.start, c.stop, c.restart].forEach(function (b) {
      b.setAttribute("aria-label", b.textContent + " " + name);
      b.addEventListener("click", function () { act(name, b.getAttribute("data-action"), b); });
    });
    c.logs.setAttribute("aria-label", "Logs of " + name);
    c.logs.addEventListener("click", function () { openLogs(name); });
    return c;
  }

  function show(node, visible) { node.hidden = !visible; }

  function render(name) {
    var s = services.get(name);
    if (!s) return;
    var st = s.status, c = s.el;
    c.title.textContent = st.display_name || st.name;
    c.name.textContent = st.display_name && st.display_name !== st.name ? st.name : "";
    c.state.textContent = st.status;
    c.state.className = "state s-" + st.status;
    var h = st.health || { healthy: null, message: "" };
    var hk = h.healthy === true ? "healthy" : h.healthy === false ? "unhealthy" : "unknown";
    c.health.textContent = hk;
    c.health.className = "health h-" + hk;
    c.healthMsg.textContent = h.message || "";
    c.pid.textContent = st.pid == null ? "-" : String(st.pid);
    c.restarts.textContent = String(st.restarts) + (st.crash_count ? " (" + st.crash_count + " crashes)" : "");
    metric(c.cpu, st.cpu_percent, s.cpu, function (v) { return v.toFixed(1) + " %"; });
    metric(c.rss, st.memory_rss_bytes, s.rss, bytes);
    var waiting = WAITING[st.status] && st.next_restart_at;
    show(c.nextLabel, !!waiting); show(c.next, !!waiting);
    show(c.reasonLabel, !!st.reason); show(c.reason, !!st.reason);
    c.reason.textContent = st.reason || "";
    c.reason.className = "reason" + (BAD[st.status] ? " bad" : "");
    c.start.disabled = !!LIVE[st.status] || c.busy;
    c.stop.disabled = !(LIVE[st.status] || WAITING[st.status]) || c.busy;
    c.restart.disabled = !!c.busy;
    tick(name);
  }

  function metric(node, value, history, format) {
    node.textContent = "";
    if (typeof value !== "number") { node.textContent = "-"; return; }
    node.appendChild(el("span", { text: format(value) }));
    node.appendChild(spark(history));
  }

  /** Fields that move with the clock: uptime and the next start countdown. */
  function tick(name) {
    var s = services.get(name);
    if (!s) return;
    var st = s.status, c = s.el;
    var running = st.pid != null && st.started_at;
    c.uptime.textContent = running ? duration(st.uptime + (Date.now() - s.receivedAt) / 1000) : "-";
    if (WAITING[st.status] && st.next_restart_at) {
      var at = new Date(st.next_restart_at);
      var left = Math.max(0, (at.getTime() - Date.now()) / 1000);
      c.next.textContent = "in " + left.toFixed(left < 10 ? 1 : 0) + " s (" + at.toLocaleTimeString() + ")";
    }
  }

  /** One sample of the figures of every service that has them, for the sparklines. */
  function sample() {
    services.forEach(function (s, name) {
      var st = s.status;
      if (typeof st.cpu_percent !== "number" && typeof st.memory_rss_bytes !== "number") return;
      s.cpu.push(typeof st.cpu_percent === "number" ? st.cpu_percent : 0);
      s.rss.push(typeof st.memory_rss_bytes === "number" ? st.memory_rss_bytes : 0);
      if (s.cpu.length > SPARK_POINTS) s.cpu.shift();
      if (s.rss.length > SPARK_POINTS) s.rss.shift();
      render(name);
    });
  }

  function update(st) {
    var s = services.get(st.name);
    if (!s) {
      s = { status: st, receivedAt: Date.now(), el: card(st.name), cpu: [], rss: [] };
      services.set(st.name, s);
    }
    s.status = st;
    s.receivedAt = Date.now();
    if (s.cpu.length === 0 && s.rss.length === 0) sample1(s);
    render(st.name);
  }

  function snapshot(list) {
    var names = list.map(function (st) { return st.name; });
    services.forEach(function (s, name) {
      if (names.indexOf(name) < 0) { s.el.root.remove(); services.delete(name); }
    });
    list.forEach(update);
    order = names;
    order.forEach(function (name) { grid.appendChild(services.get(name).el.root); });
    if (list.length === 0) grid.textContent = "No services.";
    if (!document.body.hasAttribute("data-ready")) performance.mark("edgevisor-first-snapshot");
    document.body.setAttribute("data-ready", "1");
  }

  function connected(ok) {
    show(banner, !ok);
    conn.textContent = ok ? "live" : "disconnected";
    conn.className = ok ? "live" : "";
    document.body.setAttribute("data-connected", ok ? "1" : "0");
  }

  // ---- API token (asked for when the API answers 401)
  var TOKEN_KEY = "edgevisor-token";
  var declined = false;

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }

  function askToken() {
    var t = window.prompt("This edgevisor needs its API token:");
    if (t === null || t.trim() === "") { declined = true; return false; }
    try { sessionStorage.setItem(TOKEN_KEY, t.trim()); } catch (e) { return false; }
    declined = false;
    return true;
  }

  /** fetch with the token; on 401 ask for the token (unless quiet) and try once more. */
  function api(url, options) {
    options = options || {};
    var headers = { Accept: "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    return fetch(url, { method: options.method || "GET", headers: headers, cache: "no-store" })
      .then(function (res) {
        if (res.status !== 401 || options.retried || (options.quiet && declined) || !askToken()) return res;
        return api(url, { method: options.method, retried: true });
      });
  }

  /** An EventSource look-alike over fetch, to send the token as a header. */
  function FetchSource(url) {
    var self = this;
    self.readyState = 0;
    self.onmessage = null;
    self.listeners = {};
    self.ctrl = new AbortController();
    fetch(url, {
      headers: { Accept: "text/event-stream", Authorization: "Bearer " + token() },
      cache: "no-store",
      signal: self.ctrl.signal,
    }).then(function (res) {
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      self.readyState = 1;
      self.emit("open", {});
      var reader = res.body.getReader(), decoder = new TextDecoder(), buf = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error("closed");
          buf += decoder.decode(r.value, { stream: true });
          var blocks = buf.split(/\r?\n\r?\n/);
          buf = blocks.pop();
          blocks.forEach(function (b) { self.dispatch(b); });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      if (self.readyState === 2) return;
      self.readyState = 2;
      self.emit("error", {});
    });
  }
  FetchSource.prototype.addEventListener = function (type, fn) {
    (this.listeners[type] = this.listeners[type] || []).push(fn);
  };
  FetchSource.prototype.emit = function (type, e) {
    e.type = type;
    (this.listeners[type] || []).forEach(function (fn) { fn(e); });
    if (type === "message" && this.onmessage) this.onmessage(e);
  };
  FetchSource.prototype.dispatch = function (block) {
    var type = "message", data = [];
    block.split(/\r?\n/).forEach(function (line) {
      if (line.charAt(0) === ":") return;
      var i = line.indexOf(":");
      var field = i < 0 ? line : line.slice(0, i);
      var value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    });
    if (data.length) this.emit(type, { data: data.join("\n") });
  };
  FetchSource.prototype.close = function () {
    this.readyState = 2;
    this.ctrl.abort();
  };

  /** An event stream: EventSource, or FetchSource once there is a token to send. */
  function openStream(url) {
    return token() ? new FetchSource(url) : new EventSource(url);
  }

  function connect() {
    if (events) events.close();
    var source = events = openStream("/api/services/events");
    events.addEventListener("open", function () { connected(true); });
    events.addEventListener("snapshot", function (e) {
      connected(true);
      snapshot(JSON.parse(e.data).services);
    });
    var onEvent = function (e) {
      var data = JSON.parse(e.data);
      if (e.type === "metrics") lastMetricsAt = Date.now();
      if (data.status) update(data.status);
    };
    ["state", "health", "metrics"].forEach(function (t) { events.addEventListener(t, onEvent); });
    events.onmessage = onEvent;
    events.addEventListener("error", function () {
      connected(false);
      // A closed stream (an error status) is not retried by the browser: start over,
      // after asking for the token if that is what is missing.
      if (source.readyState !== 2 || events !== source) return;
      var retry = function () { if (events === source) setTimeout(connect, 2000); };
      api("/api/health", { quiet: true }).then(retry, retry);
    });
  }

  function message(name, text, isError) {
    var s = services.get(name);
    if (!s) return;
    s.el.msg.textContent = text;
    s.el.msg.className = "msg" + (isError ? " error" : "");
    s.el.msg.setAttribute("role", isError ? "alert" : "status");
  }

  var VERB = { start: "Starting", stop: "Stopping", restart: "Restarting" };

  function act(name, action, button) {
    var s = services.get(name);
    if (!s) return;
    var label = (s.status.display_name || name);
    if (action === "stop" && !window.confirm("Stop " + label + " (" + name + ")?")) return;
    var c = s.el;
    c.busy = true;
    var text = button.textContent;
    button.textContent = VERB[action] + "\u2026";
    message(name, VERB[action] + " " + label + "\u2026", false);
    render(name);
    api("/api/services/" + action + "/" + encodeURIComponent(name), { method: "POST" })
      .then(function (res) {
        return res.json().catch(function () { return { ok: false, error: "HTTP " + res.status }; });
      })
      .then(function (body) {
        if (body.ok) {
          message(name, body.message || "Done", false);
          update(body);
        } else message(name, body.error || "Request failed", true);
      })
      .catch(function (err) { message(name, "Cannot reach the orchestrator: " + err.message, true); })
      .then(function () {
        c.busy = false;
        button.textContent = text;
        render(name);
      });
  }

  // ---- Log view
  var logs = $("logs"), logLines = $("log-lines"), logTitle = $("logs-title");
  var logStream = $("log-stream"), logFollow = $("log-follow"), logSearch = $("log-search");
  var logInfo = $("log-info"), logPaused = $("log-paused"), logResume = $("log-resume");
  var logName = null, logSource = null, unseen = 0, atBottom = true;
  var MAX_LINES = 5000, BACKLOG = 500;

  function closeLogSource() {
    if (logSource) { logSource.close(); logSource = null; }
  }

  function openLogs(name) {
    logName = name;
    var s = services.get(name);
    logTitle.textContent = "Logs of " + (s ? s.status.display_name || name : name);
    show(logs, true);
    loadLogs();
    logs.scrollIntoView({ block: "start" });
    logLines.focus();
  }

  function closeLogs() {
    closeLogSource();
    show(logs, false);
    var s = services.get(logName);
    logName = null;
    if (s) s.el.logs.focus();
  }

  function loadLogs() {
    closeLogSource();
    logLines.textContent = "";
    unseen = 0; atBottom = true; show(logPaused, false);
    var name = logName, stream = logStream.value;
    var base = "/api/services/logs/" + encodeURIComponent(name) + "?stream=" + stream + "&lines=" + BACKLOG;
    if (logFollow.checked) {
      logInfo.textContent = "connecting\u2026";
      var source = logSource = openStream(base + "&follow=1");
      logSource.addEventListener("open", function () { logLines.textContent = ""; unseen = 0; });
      logSource.addEventListener("lines", function (e) {
        var d = JSON.parse(e.data);
        appendLines(d.stream, d.lines);
      });
      logSource.addEventListener("ready", function () { logInfo.textContent = "following"; counts(); });
      logSource.addEventListener("error", function () {
        logInfo.textContent = "disconnected, retrying\u2026";
        // EventSource retries by itself; a closed stream (FetchSource, an error status) does not.
        if (source.readyState === 2) {
          setTimeout(function () { if (logSource === source) loadLogs(); }, 2000);
        }
      });
    } else {
      logInfo.textContent = "loading\u2026";
      api(base).then(function (r) { return r.json(); }).then(function (body) {
        if (name !== logName) return;
        if (!body.ok) { logInfo.textContent = body.error; return; }
        if (body.stdout) appendLines("stdout", body.stdout);
        if (body.stderr) appendLines("stderr", body.stderr);
        logInfo.textContent = "not following";
        counts();
      }).catch(function (err) { logInfo.textContent = err.message; });
    }
  }

  function matches(text) {
    var q = logSearch.value.toLowerCase();
    return !q || text.toLowerCase().indexOf(q) >= 0;
  }

  function appendLines(stream, lines) {
    if (!lines.length) return;
    var frag = document.createDocumentFragment();
    lines.forEach(function (line) {
      var div = document.createElement("div");
      div.textContent = line;
      if (stream === "stderr") div.className = "err";
      if (!matches(line)) div.classList.add("nomatch");
      frag.appendChild(div);
    });
    logLines.appendChild(frag);
    while (logLines.childElementCount > MAX_LINES) logLines.firstElementChild.remove();
    if (atBottom) logLines.scrollTop = logLines.scrollHeight;
    else {
      unseen += lines.length;
      logResume.textContent = "Paused: " + unseen + " new line" + (unseen === 1 ? "" : "s") + " \u2014 jump to the end";
      show(logPaused, true);
    }
    counts();
  }

  function counts() {
    var total = logLines.childElementCount;
    var q = logSearch.value;
    var state = logSource ? "following" : "not following";
    if (q) {
      var shown = logLines.querySelectorAll("div:not(.nomatch)").length;
      logInfo.textContent = state + " \u00b7 " + shown + " of " + total + " lines match";
    } else logInfo.textContent = state + " \u00b7 " + total + " lines";
  }

  logLines.addEventListener("scroll", function () {
    atBottom = logLines.scrollTop + logLines.clientHeight >= logLines.scrollHeight - 4;
    if (atBottom) { unseen = 0; show(logPaused, false); }
  });
  logResume.addEventListener("click", function () {
    logLines.scrollTop = logLines.scrollHeight;
    atBottom = true; unseen = 0; show(logPaused, false);
    logLines.focus();
  });
  logStream.addEventListener("change", loadLogs);
  logFollow.addEventListener("change", function () {
    if (logFollow.checked) loadLogs();
    else { closeLogSource(); counts(); }
  });
  logSearch.addEventListener("input", function () {
    Array.prototype.forEach.call(logLines.children, function (div) {
      div.classList.toggle("nomatch", !matches(div.textContent));
    });
    counts();
  });
  $("log-close").addEventListener("click", closeLogs);
  logs.addEventListener("keydown", function (e) { if (e.key === "Escape") closeLogs(); });

  function sample1(s) {
    var st = s.status;
    if (typeof st.cpu_percent === "number") s.cpu.push(st.cpu_percent);
    if (typeof st.memory_rss_bytes === "number") s.rss.push(st.memory_rss_bytes);
  }

  setInterval(function () {
    services.forEach(function (_, name) { tick(name); });
  }, 1000);
  setInterval(sample, 2000);
  // Without metrics events, refresh the figures now and then.
  setInterval(function () {
    if (!events || events.readyState !== 1) return;
    var any = false;
    services.forEach(function (s) { if (typeof s.status.cpu_percent === "number") any = true; });
    if (!any || Date.now() - lastMetricsAt < 10000) return;
    api("/api/services/list", { quiet: true }).then(function (r) { return r.json(); }).then(function (b) {
      if (b.ok) b.services.forEach(update);
    }).catch(function () {});
  }, 5000);

  connected(false);
  conn.textContent = "connecting\u2026";
  show(banner, false);
  connect();
})();
`;
