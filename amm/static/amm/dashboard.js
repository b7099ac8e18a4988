/* The AMM operator dashboard (templates/amm/dashboard.html): fetches the data endpoint
 * every few seconds and updates the page in place (no reload, no build step).
 *
 * - The first request gets an hour of history for every market; later ones pass
 *   ?since=<newest sample seen> and get only what is new, which this script appends.
 * - The table's rows are kept (keyed by market) and moved, so scrolling, the selection
 *   and the sparklines survive refreshes.
 * - Charts: a sparkline per row (canvas), uPlot charts for the selected market.
 */
(function () {
  "use strict";

  var root = document.getElementById("dash");
  if (!root) return;

  var cfg = {
    url: root.dataset.url,
    refreshMs: Math.max(1000, parseInt(root.dataset.refreshMs, 10) || 3000),
    adminInstances: root.dataset.adminInstances,
    adminAlerts: root.dataset.adminAlerts,
  };

  var S = {
    rows: new Map(),       // market id -> latest row from the server
    order: [],             // market ids in the server's attention order
    series: new Map(),     // market id -> {t, fair, bid, ask, yes, no, skew, pnl, version}
    trs: new Map(),        // market id -> <tr>
    since: null,           // newest sample time seen (s); null: ask for the whole window
    sampleS: 10,
    windowS: 3600,
    staleMs: 5000,
    selected: decodeURIComponent((location.hash.match(/m=([^&]+)/) || [])[1] || "") || null,
    filter: "",
    attentionOnly: false,
    sort: null,            // {key, dir} or null (attention order)
    paused: false,
    timer: null,
    inFlight: false,
    lastOk: 0,
    lastError: "",
    stopped: false,
    summary: null,
    serverOffsetMs: 0,
  };

  var $ = function (id) { return document.getElementById(id); };
  var tbody = $("dash-rows");

  // --- formatting ----------------------------------------------------------------------------
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  var nf = new Intl.NumberFormat("en-US");
  function num(v) { return v === null || v === undefined ? "–" : nf.format(v); }
  function money(cents, signed) {
    if (cents === null || cents === undefined) return "–";
    var sign = cents < 0 ? "−" : (signed && cents > 0 ? "+" : "");
    var abs = Math.abs(cents);
    return sign + "$" + nf.format(Math.floor(abs / 100)) + "." + String(abs % 100).padStart(2, "0");
  }
  /* Long market ids keep their head and their tail (the tail tells markets of a series apart). */
  function shortId(id) { return id.length <= 18 ? id : id.slice(0, 8) + "…" + id.slice(-9); }
  function pnlClass(cents) { return !cents ? "" : (cents > 0 ? "pos" : "neg"); }
  function age(ms) {
    if (ms === null || ms === undefined) return "never";
    ms = Math.max(0, ms);  // another process's clock may run a few ms ahead of this one's
    if (ms < 10000) return (ms / 1000).toFixed(1) + "s";
    if (ms < 120000) return Math.round(ms / 1000) + "s";
    if (ms < 7200000) return Math.round(ms / 60000) + "m";
    return Math.round(ms / 3600000) + "h";
  }
  var LIFE = {RUNNING: "RUN", EMERGENCY: "EMERG", WINDING_DOWN: "WIND", STOPPED: "STOP", STARTING: "START"};
  var LIFE_WORDS = {RUNNING: "running", EMERGENCY: "emergency", WINDING_DOWN: "winding down", STOPPED: "stopped", STARTING: "starting"};
  var PHASE = {EXPLORATION: "EXPL", STABILIZATION: "STAB"};
  var DEF = {NORMAL: "–", WIDEN: "WIDEN", ONE_SIDE: "1-SIDE", KILL_SWITCH: "KILL"};
  function levelOfRank(rank) { return rank <= 3 ? "critical" : rank <= 6 ? "warning" : "watch"; }
  function skewLevel(v) { var a = Math.abs(v); return a > 0.9 ? "critical" : a > 0.8 ? "warning" : a >= 0.6 ? "watch" : ""; }
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888"; }

  // --- history -----------------------------------------------------------------------------------
  var COLS = ["t", "fair", "bid", "ask", "yes", "no", "skew", "pnl"];

  function emptySeries() { var s = {version: 0}; COLS.forEach(function (c) { s[c] = []; }); return s; }

  /* Append samples (columns) to a market's series: a gap longer than 2.5 samples gets a
   * null point (the charts break the line instead of drawing across a stopped sampler).
   * The first answer thins the hour (h.step_s apart); later ones send every sample. */
  function appendHistory(s, h) {
    var n = h.t.length, added = 0, step = Math.max(S.sampleS, h.step_s || 0);
    for (var i = 0; i < n; i++) {
      var t = h.t[i], last = s.t.length ? s.t[s.t.length - 1] : null;
      if (last !== null && t <= last) continue;
      if (last !== null && t - last > step * 2.5) {
        s.t.push(last + step);
        COLS.slice(1).forEach(function (c) { s[c].push(null); });
      }
      COLS.forEach(function (c) { s[c].push(h[c][i]); });
      added++;
    }
    return added;
  }

  function trimHistory(s, nowS) {
    var from = nowS - S.windowS, k = 0;
    while (k < s.t.length && s.t[k] < from) k++;
    if (k) COLS.forEach(function (c) { s[c].splice(0, k); });
    while (s.t.length && s.fair[0] === null && s.yes[0] === null) COLS.forEach(function (c) { s[c].shift(); });
    return k;
  }

  // --- fetching --------------------------------------------------------------------------------------
  function schedule(delay) {
    clearTimeout(S.timer);
    if (S.stopped) return;
    S.timer = setTimeout(refresh, delay === undefined ? cfg.refreshMs : delay);
  }

  function refresh() {
    if (S.paused || S.stopped || document.hidden || S.inFlight) { schedule(); return; }
    S.inFlight = true;
    // Ask again for the last few samples: a sample written while the previous answer was
    // being read may be in one market's list and not yet in another's (duplicates are skipped).
    var url = cfg.url + (S.since !== null ? "?since=" + Math.max(0, S.since - 3 * S.sampleS) : "");
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (resp) {
        return resp.json().catch(function () { return {detail: "HTTP " + resp.status}; })
          .then(function (body) { return {ok: resp.ok, status: resp.status, body: body}; });
      })
      .then(function (r) {
        if (r.status === 403) {
          S.stopped = true;
          banner((r.body && r.body.detail) || "Not allowed.", "Reload the page to log in again.");
          return;
        }
        if (!r.ok) throw new Error((r.body && r.body.detail) || ("HTTP " + r.status));
        apply(r.body);
        S.lastOk = Date.now();
        S.lastError = "";
        render();
      })
      .catch(function (err) {
        S.lastError = err && err.message ? err.message : String(err);
        renderFreshness();
      })
      .then(function () { S.inFlight = false; schedule(); });
  }

  function apply(data) {
    var full = S.since === null;
    S.sampleS = data.sample_s || S.sampleS;
    S.windowS = data.window_s || S.windowS;
    S.staleMs = data.stale_ms || S.staleMs;
    S.summary = data.summary;
    S.serverOffsetMs = data.now_ms - Date.now();
    var nowS = Math.floor(data.now_ms / 1000);
    var seen = new Set(), newest = S.since, unknown = false;
    S.order = data.markets.map(function (m) { return m.market_id; });
    data.markets.forEach(function (m) {
      seen.add(m.market_id);
      S.rows.set(m.market_id, m);
      var s = S.series.get(m.market_id);
      if (!s || full) {
        if (!s && !full) unknown = true;  // a market that appeared: fetch its whole hour next time
        s = emptySeries();
        S.series.set(m.market_id, s);
      }
      var added = appendHistory(s, m.history);
      var trimmed = trimHistory(s, nowS);
      if (added || trimmed) s.version++;
      if (s.t.length) newest = Math.max(newest === null ? 0 : newest, s.t[s.t.length - 1]);
      delete m.history;
    });
    Array.from(S.rows.keys()).forEach(function (id) {
      if (!seen.has(id)) {
        S.rows.delete(id); S.series.delete(id);
        var tr = S.trs.get(id);
        if (tr) { tr.remove(); S.trs.delete(id); }
      }
    });
    // No sample yet anywhere: keep asking for the whole window (cheap while it is empty).
    S.since = unknown ? null : newest;
    if (!S.selected && S.order.length) select(S.order[0], false);
    if (S.selected && !S.rows.has(S.selected)) select(S.order[0] || null, false);
  }

  // --- rendering ----------------------------------------------------------------------------------------
  function render() {
    root.classList.remove("is-loading");
    renderTiles();
    renderTable();
    renderDetail();
    renderFreshness();
  }

  function tile(id, value, sub, cls) {
    var el = $(id);
    el.querySelector(".tile-value").innerHTML = value;
    var subEl = el.querySelector(".tile-sub");
    subEl.innerHTML = sub || "";
    subEl.title = subEl.textContent;
    el.classList.remove("is-critical", "is-warning", "is-ok");
    if (cls) el.classList.add("is-" + cls);
  }

  function renderTiles() {
    var s = S.summary;
    if (!s) return;
    var lc = s.lifecycles || {}, lv = s.levels || {};
    var parts = ["RUNNING", "EMERGENCY", "WINDING_DOWN", "STARTING", "STOPPED"].filter(function (k) { return lc[k]; })
      .map(function (k) { return nf.format(lc[k]) + " " + (LIFE_WORDS[k] || k); });
    tile("t-markets", nf.format(s.markets), parts.join(" · ") || "no AMM market yet", lc.EMERGENCY ? "warning" : null);
    var crit = lv.critical || 0, warn = lv.warning || 0, watch = lv.watch || 0;
    tile("t-attention", nf.format(crit + warn),
         nf.format(crit) + " critical · " + nf.format(warn) + " warning · " + nf.format(watch) + " watch",
         crit ? "critical" : warn ? "warning" : "ok");
    tile("t-pnl", '<span class="' + pnlClass(s.pnl_cents) + '">' + money(s.pnl_cents, true) + "</span>",
         nf.format(s.fills_today) + " fills · " + nf.format(s.orders) + " live orders");
    tile("t-alerts", nf.format(s.alerts_critical + s.alerts_warning),
         nf.format(s.alerts_critical) + " critical · " + nf.format(s.alerts_warning) + " warning",
         s.alerts_critical ? "critical" : s.alerts_warning ? "warning" : null);
    var hb = s.scheduler_age_ms;
    var running = (lc.RUNNING || 0) + (lc.EMERGENCY || 0) + (lc.WINDING_DOWN || 0);
    if (hb === null || hb === undefined) {
      tile("t-loop", "not running", "no scheduler heartbeat in Redis", running ? "critical" : null);
    } else if (hb > S.staleMs) {
      tile("t-loop", "silent " + age(hb), "no scheduler heartbeat: is run_amm up?", running ? "critical" : "warning");
    } else {
      tile("t-loop", "alive", "heartbeat " + age(hb) + " ago", "ok");
    }
  }

  function renderFreshness() {
    var since = S.lastOk ? Date.now() - S.lastOk : null;
    var stale = S.lastOk && since > Math.max(3 * cfg.refreshMs, 10000);
    root.classList.toggle("is-stale", !!(stale || (S.lastError && S.lastOk && since > cfg.refreshMs * 2)));
    if (S.stopped) return;
    if (S.lastError) {
      tile("t-updated", "no data", (S.lastOk ? "last update " + age(since) + " ago · " : "") + esc(S.lastError), "critical");
      banner("Cannot reach the dashboard data: " + S.lastError + ".",
             S.lastOk ? "The figures below are " + age(since) + " old. Retrying every " + cfg.refreshMs / 1000 + " s." : "Retrying.");
    } else if (S.paused) {
      tile("t-updated", "paused", "updated " + age(since) + " ago", "warning");
      banner(null);
    } else {
      tile("t-updated", S.lastOk ? "live" : "loading…",
           S.lastOk ? "updated " + age(since) + " ago · every " + cfg.refreshMs / 1000 + " s" : "", S.lastOk ? "ok" : null);
      banner(null);
    }
  }

  function banner(text, sub) {
    var el = $("dash-banner");
    if (!text) { el.hidden = true; return; }
    el.hidden = false;
    el.textContent = text + (sub ? " " + sub : "");
  }

  // sorting: the server's attention order unless a column header was clicked
  var SORTERS = {
    market_id: function (m) { return m.market_id; },
    lifecycle: function (m) { return m.lifecycle; },
    phase: function (m) { return m.phase || ""; },
    defense: function (m) { return {KILL_SWITCH: 0, ONE_SIDE: 1, WIDEN: 2, NORMAL: 3}[m.defense] || 4; },
    kill_switch: function (m) { return m.kill_switch === "ON" ? 0 : 1; },
    fair: function (m) { return m.fair; },
    spread: function (m) { return m.bid !== null && m.ask !== null ? m.ask - m.bid : null; },
    inventory: function (m) { return (m.yes || 0) + (m.no || 0); },
    skew: function (m) { return m.skew === null ? null : Math.abs(m.skew); },
    pnl_cents: function (m) { return m.pnl_cents; },
    requote_age_ms: function (m) { return m.requote_age_ms; },
  };

  function visibleIds() {
    var ids = S.order.slice();
    if (S.sort) {
      var key = SORTERS[S.sort.key], dir = S.sort.dir;
      var pos = new Map(ids.map(function (id, i) { return [id, i]; }));
      ids.sort(function (a, b) {
        var va = key(S.rows.get(a)), vb = key(S.rows.get(b));
        if (va === vb) return pos.get(a) - pos.get(b);
        if (va === null || va === undefined) return 1;   // blanks last whatever the direction
        if (vb === null || vb === undefined) return -1;
        return (va < vb ? -1 : 1) * dir;
      });
    }
    var f = S.filter;
    return ids.filter(function (id) {
      var m = S.rows.get(id);
      if (S.attentionOnly && m.rank > 8) return false;
      return !f || id.toLowerCase().indexOf(f) >= 0;
    });
  }

  function renderTable() {
    var ids = visibleIds();
    $("dash-count").textContent = ids.length === S.order.length ? nf.format(ids.length) + " markets"
      : nf.format(ids.length) + " of " + nf.format(S.order.length) + " markets";
    var empty = tbody.querySelector(".dash-empty");
    if (!ids.length) {
      if (!empty) { empty = document.createElement("tr"); empty.className = "dash-empty"; }
      empty.innerHTML = '<td colspan="12">' + (S.order.length ? "No market matches." :
        "No AMM market yet: enable one with <code>manage.py amm_enable MARKET_ID</code>.") + "</td>";
      S.trs.forEach(function (tr) { tr.remove(); });
      tbody.appendChild(empty);
      return;
    }
    if (empty) empty.remove();
    var keep = new Set(ids);
    S.trs.forEach(function (tr, id) { if (!keep.has(id) && tr.parentNode) tr.remove(); });
    ids.forEach(function (id, i) {
      var tr = S.trs.get(id);
      if (!tr) { tr = buildRow(id); S.trs.set(id, tr); }
      updateRow(tr, S.rows.get(id));
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
  }

  function buildRow(id) {
    var tr = document.createElement("tr");
    tr.dataset.id = id;
    tr.innerHTML = '<td class="c-market"></td><td class="c-flags"></td><td class="c-life"></td>' +
      '<td class="c-def"></td><td class="c-kill"></td><td class="c-num c-fair"></td><td class="c-quote"></td>' +
      '<td class="c-spark"><canvas width="90" height="24"></canvas></td><td class="c-inv"></td>' +
      '<td class="c-skew"><span class="skew"><span class="skew-bar"><span class="skew-fill"></span></span>' +
      '<span class="skew-num"></span></span></td>' +
      '<td class="c-num c-pnl"></td><td class="c-num c-age"></td>';
    tr._c = tr.children;
    tr._c[9]._skew = {bar: tr.querySelector(".skew-bar"), fill: tr.querySelector(".skew-fill"),
                      num: tr.querySelector(".skew-num")};
    tr._canvas = tr.querySelector("canvas");
    tr._drawn = -1;
    return tr;
  }

  function setHTML(td, html) { if (td._html !== html) { td.innerHTML = html; td._html = html; } }

  function flagsHTML(flags, max) {
    if (!flags.length) return "";
    var shown = flags.slice(0, max).map(function (f) {
      return '<span class="badge ' + levelOfRank(f.rank) + '" title="' + esc(f.detail || f.label) + '">' + esc(f.label) + "</span>";
    }).join("");
    return shown + (flags.length > max ? '<span class="badge more" title="' +
      esc(flags.slice(max).map(function (f) { return f.label; }).join(", ")) + '">+' + (flags.length - max) + "</span>" : "");
  }

  /* The skew bar grows from the centre (−1 … +1). Positioned through the CSSOM, not a style
   * attribute: a Content-Security-Policy without 'unsafe-inline' still allows it. */
  function updateSkew(td, v) {
    var none = v === null || v === undefined;
    td._skew.bar.hidden = none;
    td._skew.num.textContent = none ? "–" : (v > 0 ? "+" : v < 0 ? "−" : "") + Math.abs(v).toFixed(2);
    td._skew.num.classList.toggle("dim", none);
    if (none) return;
    var w = Math.min(1, Math.abs(v)) * 50;
    td._skew.fill.className = "skew-fill " + skewLevel(v);
    td._skew.fill.style.left = (v >= 0 ? 50 : 50 - w) + "%";
    td._skew.fill.style.width = w + "%";
  }

  function updateRow(tr, m) {
    var c = tr._c;
    tr.className = "lvl-" + m.level + (m.market_id === S.selected ? " is-selected" : "");
    var status = m.market_status && m.market_status !== "ACTIVE" ? '<span class="mstatus">market ' + esc(m.market_status) + "</span>" : "";
    setHTML(c[0], esc(shortId(m.market_id)) + status);
    c[0].title = m.market_id;
    setHTML(c[1], flagsHTML(m.flags, 1));
    setHTML(c[2], '<span class="chip life-' + esc(m.lifecycle) + '" title="' + esc(m.lifecycle) + '">' +
      esc(LIFE[m.lifecycle] || m.lifecycle) + '</span> <span class="dim" title="' + esc(m.phase || "") + '">' +
      esc(PHASE[m.phase] || m.phase || "–") + "</span>");
    setHTML(c[3], '<span class="chip def-' + esc(m.defense) + '" title="' + esc(m.defense) + '">' +
      esc(DEF[m.defense] || m.defense) + "</span>");
    setHTML(c[4], m.kill_switch === "ON" ? '<span class="ks-on" title="' + esc(m.kill_switch_reason || "") + '">ON</span>'
      : '<span class="dim">off</span>');
    setHTML(c[5], m.fair === null ? '<span class="dim">–</span>' : String(m.fair));
    setHTML(c[6], (m.bid === null ? '<span class="dim">–</span>' : m.bid) + '<span class="sep">·</span>' +
      (m.ask === null ? '<span class="dim">–</span>' : m.ask));
    c[6].title = m.bid === null && m.ask === null ? "no live AMM order" :
      "bid " + (m.bid === null ? "–" : m.bid + "¢ × " + m.bid_qty) + " · ask " + (m.ask === null ? "–" : m.ask + "¢ × " + m.ask_qty) +
      " · " + m.orders + " live orders";
    setHTML(c[8], num(m.yes) + '<span class="sep">/</span>' + num(m.no));
    updateSkew(c[9], m.skew);
    setHTML(c[10], '<span class="' + pnlClass(m.pnl_cents) + '">' + money(m.pnl_cents, true) + "</span>");
    var late = m.lifecycle === "RUNNING" && (m.requote_age_ms === null || m.requote_age_ms > S.staleMs);
    setHTML(c[11], m.lifecycle === "RUNNING" || m.requote_age_ms !== null
      ? '<span class="' + (late ? "late" : "") + '">' + age(m.requote_age_ms) + "</span>" : '<span class="dim">–</span>');
    var s = S.series.get(m.market_id);
    if (s && tr._drawn !== s.version + ":" + theme) { drawSpark(tr._canvas, s); tr._drawn = s.version + ":" + theme; }
  }

  // --- sparklines: fair price inside the bid-ask band, the last hour --------------------------------------
  var theme = 0;
  var colors = {};
  function readColors() {
    ["fair", "bid", "ask", "band", "yes", "no", "skew", "pnl", "grid", "axis", "critical", "ok"].forEach(function (k) {
      colors[k] = cssVar("--amm-" + k);
    });
  }

  function drawSpark(canvas, s) {
    var dpr = window.devicePixelRatio || 1, W = 90, H = 24;
    if (canvas.width !== W * dpr) { canvas.width = W * dpr; canvas.height = H * dpr; }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    var n = s.t.length;
    if (n < 2) {
      ctx.fillStyle = colors.axis; ctx.globalAlpha = 0.5; ctx.font = "10px sans-serif";
      ctx.fillText(n ? "1 sample" : "no history", 2, 15); ctx.globalAlpha = 1;
      return;
    }
    var lo = Infinity, hi = -Infinity, i;
    ["fair", "bid", "ask"].forEach(function (k) {
      for (i = 0; i < n; i++) { var v = s[k][i]; if (v !== null) { if (v < lo) lo = v; if (v > hi) hi = v; } }
    });
    if (lo === Infinity) return;
    if (hi - lo < 4) { var mid = (hi + lo) / 2; lo = mid - 2; hi = mid + 2; }
    var t1 = s.t[n - 1], t0 = t1 - S.windowS;
    var x = function (t) { return 1 + (W - 2) * (t - t0) / (t1 - t0); };
    var y = function (v) { return H - 2 - (H - 4) * (v - lo) / (hi - lo); };
    // band between bid and ask where both exist
    ctx.fillStyle = colors.band;
    ctx.globalAlpha = 1;
    var start = -1;
    for (i = 0; i <= n; i++) {
      var ok = i < n && s.bid[i] !== null && s.ask[i] !== null;
      if (ok && start < 0) start = i;
      if (!ok && start >= 0) {
        ctx.beginPath();
        for (var j = start; j < i; j++) ctx.lineTo(x(s.t[j]), y(s.ask[j]));
        for (j = i - 1; j >= start; j--) ctx.lineTo(x(s.t[j]), y(s.bid[j]));
        ctx.closePath(); ctx.fill();
        start = -1;
      }
    }
    line(ctx, s, "bid", x, y, colors.bid, 0.8, 0.55);
    line(ctx, s, "ask", x, y, colors.ask, 0.8, 0.55);
    line(ctx, s, "fair", x, y, colors.fair, 1.5, 1);
  }

  function line(ctx, s, key, x, y, color, width, alpha) {
    ctx.strokeStyle = color; ctx.lineWidth = width; ctx.globalAlpha = alpha;
    ctx.beginPath();
    var pen = false;
    for (var i = 0; i < s.t.length; i++) {
      var v = s[key][i];
      if (v === null) { pen = false; continue; }
      if (pen) ctx.lineTo(x(s.t[i]), y(v)); else { ctx.moveTo(x(s.t[i]), y(v)); pen = true; }
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  // --- the selected market -----------------------------------------------------------------------------------
  var charts = {price: null, inventory: null, pnl: null};

  function select(id, scroll) {
    S.selected = id;
    if (id) history.replaceState(null, "", "#m=" + encodeURIComponent(id));
    S.trs.forEach(function (tr, key) { tr.classList.toggle("is-selected", key === id); });
    if (scroll && id) {
      var tr = S.trs.get(id);
      if (tr) tr.scrollIntoView({block: "nearest"});
    }
    renderDetail(true);
  }

  function figure(label, value, cls) {
    return "<div><dt>" + label + '</dt><dd class="' + (cls || "") + '">' + value + "</dd></div>";
  }

  function renderDetail(changed) {
    var m = S.selected && S.rows.get(S.selected);
    var box = $("dash-detail");
    box.querySelector(".detail-empty").hidden = !!m;
    box.querySelector(".detail-body").hidden = !m;
    if (!m) return;
    $("d-title").textContent = m.market_id;
    $("d-title").title = m.market_id;
    $("d-admin").href = cfg.adminInstances + m.id + "/change/";
    $("d-alerts").href = cfg.adminAlerts + "?market_id=" + encodeURIComponent(m.market_id) + "&acknowledged__exact=0";
    var pill = function (label, value, cls) {
      return '<span class="pill ' + (cls || "") + '"><small>' + label + "</small> " + esc(value) + "</span>";
    };
    $("d-chips").innerHTML =
      pill("lifecycle", m.lifecycle, "chip life-" + m.lifecycle) +
      pill("phase", m.phase || "–", "") +
      pill("defense", m.defense, "chip def-" + m.defense) +
      pill("kill switch", m.kill_switch, m.kill_switch === "ON" ? "chip def-KILL_SWITCH" : "") +
      pill("market", m.market_status || "?", m.market_status && m.market_status !== "ACTIVE" ? "chip life-WINDING_DOWN" : "");
    $("d-flags").innerHTML = m.flags.map(function (f) {
      return '<div class="flag-line"><span class="badge ' + levelOfRank(f.rank) + '">' + esc(f.label) + "</span>" +
        (f.detail ? esc(f.detail) : "") + "</div>";
    }).join("");
    var spread = m.bid !== null && m.ask !== null ? m.ask - m.bid : null;
    $("d-figures").innerHTML =
      figure("Fair", m.fair === null ? "–" : m.fair + "¢", "") +
      figure("Bid", m.bid === null ? "–" : m.bid + "¢ <small>× " + num(m.bid_qty) + "</small>") +
      figure("Ask", m.ask === null ? "–" : m.ask + "¢ <small>× " + num(m.ask_qty) + "</small>") +
      figure("Spread", spread === null ? "–" : spread + "¢ <small>σ " + (m.sigma === null ? "–" : Number(m.sigma).toFixed(1)) + "</small>") +
      figure("YES <small>(free)</small>", num(m.yes) + " <small>(" + num(m.yes_available) + ")</small>") +
      figure("NO <small>(free)</small>", num(m.no) + " <small>(" + num(m.no_available) + ")</small>") +
      figure("Skew", m.skew === null ? "–" : (m.skew > 0 ? "+" : "") + m.skew.toFixed(2), skewLevel(m.skew || 0) ? "neg" : "") +
      figure("Cash", money(m.cash_cents)) +
      figure("PnL today", money(m.pnl_cents, true), pnlClass(m.pnl_cents)) +
      figure("Fills today", num(m.fills_today)) +
      figure("Live orders", num(m.orders)) +
      figure("Quoted", age(m.requote_age_ms) + (m.requote_age_ms !== null ? " <small>ago</small>" : ""),
             m.lifecycle === "RUNNING" && (m.requote_age_ms === null || m.requote_age_ms > S.staleMs) ? "neg" : "");
    drawCharts(changed);
  }

  function axis(extra) {
    var a = {stroke: colors.axis, grid: {stroke: colors.grid, width: 1}, ticks: {stroke: colors.grid, width: 1, size: 4},
             font: "11px " + (getComputedStyle(document.body).fontFamily || "sans-serif")};
    for (var k in extra) a[k] = extra[k];
    return a;
  }

  // 24-hour clock on the time axis, one line (the charts span an hour).
  var hhmm = typeof uPlot !== "undefined" ? uPlot.fmtDate("{HH}:{mm}") : null;
  var hhmmss = typeof uPlot !== "undefined" ? uPlot.fmtDate("{HH}:{mm}:{ss}") : null;
  function timeAxis() {
    return axis({size: 22, space: 60, values: function (u, vals) { return vals.map(function (v) { return hhmm(new Date(v * 1000)); }); }});
  }
  var timeSeries = {label: "", value: function (u, v) { return v === null || v === undefined ? "" : hhmmss(new Date(v * 1000)); }};

  function chartWidth() { return Math.max(200, $("chart-price").clientWidth || 340); }

  // value formatters: a legend shows one value, an axis maps its ticks
  function blank(fmt) { return function (u, v) { return v === null || v === undefined ? "–" : fmt(v); }; }
  function ticks(fmt) { return function (u, vals) { return vals.map(fmt); }; }
  function centsText(v) { return v + "¢"; }
  function dollarsText(v) { return (v < 0 ? "−$" : "$") + compact(Math.abs(v)); }
  function compact(v) {
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return String(Math.round(v * 100) / 100);
  }
  function priceRange(u, lo, hi) {  // cents, at least 4 ¢ tall, inside [0, 100]
    if (lo === null) return [0, 100];
    var pad = Math.max(2, (hi - lo) * 0.15);
    return [Math.max(0, Math.floor(lo - pad)), Math.min(100, Math.ceil(hi + pad))];
  }

  function chart(box, height, scales, axes, series, extra) {
    var opts = {width: chartWidth(), height: height, cursor: {drag: {x: true, y: false}},
                scales: scales, axes: axes, series: [timeSeries].concat(series)};
    for (var k in extra || {}) opts[k] = extra[k];
    return new uPlot(opts, [[]].concat(series.map(function () { return []; })), $(box));
  }

  function makeCharts() {
    Object.keys(charts).forEach(function (k) { if (charts[k]) { charts[k].destroy(); charts[k] = null; } });
    if (typeof uPlot === "undefined") return;
    var stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({align: 1}) : undefined;
    var cents = blank(centsText), shares = blank(nf.format);
    charts.price = chart("chart-price", 170,
      {x: {time: true}, y: {range: priceRange}},
      [timeAxis(), axis({size: 42, values: ticks(centsText)})],
      [{label: "Bid", stroke: colors.bid, width: 1.25, paths: stepped, value: cents},
       {label: "Ask", stroke: colors.ask, width: 1.25, paths: stepped, value: cents},
       {label: "Fair", stroke: colors.fair, width: 2, value: cents}],
      {bands: [{series: [2, 1], fill: colors.band}]});  // the AMM's spread: between ask (2) and bid (1)
    charts.inventory = chart("chart-inventory", 120,
      {x: {time: true}, skew: {range: [-1, 1]}},
      [timeAxis(), axis({size: 42, values: ticks(compact)}),
       axis({scale: "skew", side: 1, size: 34, grid: {show: false}, values: ticks(function (v) { return v.toFixed(1); })})],
      [{label: "YES", stroke: colors.yes, width: 1.5, value: shares},
       {label: "NO", stroke: colors.no, width: 1.5, value: shares},
       {label: "Skew", stroke: colors.skew, width: 1, dash: [4, 3], scale: "skew",
        value: blank(function (v) { return v.toFixed(2); })}]);
    charts.pnl = chart("chart-pnl", 100,
      {x: {time: true}},
      [timeAxis(), axis({size: 50, space: 20, values: ticks(dollarsText)})],
      [{label: "PnL", stroke: colors.pnl, width: 1.5, fill: colors.band,
        value: blank(function (v) { return money(Math.round(v * 100), true); })}]);
  }

  var chartKey = "";
  function drawCharts(changed) {
    if (typeof uPlot === "undefined") return;
    if (!charts.price) makeCharts();
    var s = S.series.get(S.selected) || emptySeries();
    var key = S.selected + ":" + s.version + ":" + theme;
    if (!changed && key === chartKey) return;
    chartKey = key;
    var pnl = s.pnl.map(function (v) { return v === null ? null : v / 100; });
    charts.price.setData([s.t, s.bid, s.ask, s.fair]);
    charts.inventory.setData([s.t, s.yes, s.no, s.skew]);
    charts.pnl.setData([s.t, pnl]);
    var msg = s.t.length ? "" : "No history yet: run_amm samples every market every " + S.sampleS + " s.";
    ["chart-price", "chart-inventory", "chart-pnl"].forEach(function (id) {
      var box = $(id), note = box.querySelector(".no-data");
      if (!msg) { if (note) note.remove(); return; }
      if (!note) { note = document.createElement("div"); note.className = "no-data"; box.appendChild(note); }
      note.textContent = msg;
    });
  }

  // --- interaction -----------------------------------------------------------------------------------
  tbody.addEventListener("click", function (e) {
    var tr = e.target.closest("tr[data-id]");
    if (tr) select(tr.dataset.id, false);
  });

  document.addEventListener("keydown", function (e) {
    if (e.target.matches("input, textarea, select") || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp" && e.key !== "j" && e.key !== "k") return;
    var ids = visibleIds();
    if (!ids.length) return;
    var i = ids.indexOf(S.selected);
    var next = e.key === "ArrowDown" || e.key === "j" ? Math.min(ids.length - 1, i + 1) : Math.max(0, i - 1);
    e.preventDefault();
    select(ids[next], true);
  });

  $("dash-filter").addEventListener("input", function (e) { S.filter = e.target.value.trim().toLowerCase(); renderTable(); });
  $("dash-attention-only").addEventListener("change", function (e) { S.attentionOnly = e.target.checked; renderTable(); });

  var headers = document.querySelectorAll("#dash-table thead th[data-sort]");
  function renderSortHeaders() {
    headers.forEach(function (th) {
      var on = S.sort && S.sort.key === th.dataset.sort;
      th.classList.toggle("sorted", !!on);
      th.classList.toggle("asc", !!(on && S.sort.dir > 0));
    });
    $("dash-sort-reset").hidden = !S.sort;
  }
  headers.forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.dataset.sort;
      var numeric = ["fair", "spread", "inventory", "skew", "pnl_cents", "requote_age_ms"].indexOf(key) >= 0;
      if (S.sort && S.sort.key === key) S.sort.dir = -S.sort.dir;
      else S.sort = {key: key, dir: numeric && key !== "pnl_cents" ? -1 : 1};
      renderSortHeaders(); renderTable();
    });
  });
  $("dash-sort-reset").addEventListener("click", function () { S.sort = null; renderSortHeaders(); renderTable(); });

  $("dash-pause").addEventListener("click", function (e) {
    S.paused = !S.paused;
    e.target.setAttribute("aria-pressed", String(S.paused));
    e.target.textContent = S.paused ? "Resume" : "Pause";
    renderFreshness();
    if (!S.paused) schedule(0);
  });

  document.addEventListener("visibilitychange", function () { if (!document.hidden) schedule(0); });

  // The admin's theme toggle sets <html data-theme>: recolour charts and sparklines.
  new MutationObserver(function () {
    readColors(); theme++;
    makeCharts(); chartKey = "";
    if (S.lastOk) render();
  }).observe(document.documentElement, {attributes: true, attributeFilter: ["data-theme"]});
  if (window.matchMedia) {
    var mq = window.matchMedia("(prefers-color-scheme: dark)");
    var onScheme = function () { readColors(); theme++; makeCharts(); chartKey = ""; if (S.lastOk) render(); };
    if (mq.addEventListener) mq.addEventListener("change", onScheme);
  }

  if (window.ResizeObserver) {
    var lastW = 0;
    new ResizeObserver(function () {
      var w = chartWidth();
      if (Math.abs(w - lastW) < 2) return;
      lastW = w;
      Object.keys(charts).forEach(function (k) { if (charts[k]) charts[k].setSize({width: w, height: charts[k].height}); });
    }).observe($("dash-detail"));
  }

  setInterval(function () { if (S.lastOk) renderFreshness(); }, 1000);

  readColors();
  renderSortHeaders();
  refresh();
})();
