// The wampkit console: signs in to one or more realms over WAMP (wampy.js,
// one session per realm) and shows one of them from the meta API. The
// session list is paged and filtered by the router (wampkit.session.page):
// the page asks for the rows on screen only, one call per refresh, so
// that 10,000 sessions cost what 50 do. The chart's figures come from
// wampkit.router.stats.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 50;          // session rows per page
const MAX_ROWS = 200;     // registrations and subscriptions shown
const REFRESH_MS = 2000;  // refresh of what is on screen
const QUEUE_MS = 200;     // how long meta events are gathered before a refresh

let cfg = { realms: [], url: "ws", version: "" };
const conns = new Map();  // realm -> {realm, authid, w}: the realms signed in to
let cur = null;           // the conn on screen
let timers = [];
let view = newView();     // what is shown of cur

function newView() {
  return {
    page: 0,
    result: { count: 0, matched: 0, sessions: [] },
    prev: new Map(),  // session ID -> {t, in, out}: the last counts seen, for the rates
    rates: new Map(), // session ID -> {rin, rout}
    seq: 0,           // of the last session page asked for
  };
}

function setStatus(text, cls) {
  $("status").textContent = text;
  $("status").className = cls || "";
}

function wsURL() {
  const u = new URL(cfg.url, location.href);
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol === "https:") u.protocol = "wss:";
  return u.href;
}

function errText(e) {
  if (e && e.errorUri) {
    const a = e.argsList && e.argsList.length ? " " + JSON.stringify(e.argsList) : "";
    return e.errorUri + a;
  }
  return String((e && e.message) || e);
}

// call calls proc in c's realm and returns the result's arguments.
async function call(c, proc, args, kwargs) {
  const payload = {};
  if (args !== undefined) payload.argsList = args;
  if (kwargs !== undefined) payload.argsDict = kwargs;
  const r = await c.w.call(proc, args === undefined && kwargs === undefined ? undefined : payload);
  return r.argsList || [];
}

// --- sign in, realms ---------------------------------------------------------

async function init() {
  try {
    cfg = await (await fetch("config.json")).json();
  } catch (e) { /* defaults */ }
  $("version").textContent = cfg.version || "";
  if (cfg.realms.length > 0) {
    for (const r of cfg.realms) {
      const o = document.createElement("option");
      o.value = o.textContent = r;
      $("realm-select").append(o);
    }
    $("realm-select").hidden = false;
  } else {
    $("realm-input").hidden = false;
  }
  $("login").addEventListener("submit", (ev) => { ev.preventDefault(); signIn(); });
  $("cancel").addEventListener("click", () => { if (cur) show(cur); });
  $("add-realm").addEventListener("click", showLogin);
  $("signout").addEventListener("click", signOut);
  $("realm-tabs").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-realm]");
    if (b && conns.has(b.dataset.realm)) show(conns.get(b.dataset.realm));
  });
  $("session-filter").addEventListener("input", () => { view.page = 0; queueSessions(); });
  $("prev").addEventListener("click", () => { if (view.page > 0) { view.page--; refreshSessions(); } });
  $("next").addEventListener("click", () => {
    if ((view.page + 1) * PAGE < view.result.matched) { view.page++; refreshSessions(); }
  });
  $("sessions").addEventListener("click", onKillClick);
  $("call-form").addEventListener("submit", (ev) => { ev.preventDefault(); doCall(); });
  $("pub-form").addEventListener("submit", (ev) => { ev.preventDefault(); doPublish(); });
}

// showLogin shows the sign-in form; the realms signed in to stay so.
function showLogin() {
  $("login").hidden = false;
  $("main").hidden = true;
  $("cancel").hidden = conns.size === 0;
  $("login-error").textContent = "";
  const taken = [...conns.keys()];
  const free = cfg.realms.find((r) => !taken.includes(r));
  if (free !== undefined) $("realm-select").value = free;
  $("authid").focus();
}

async function signIn() {
  const realm = cfg.realms.length > 0 ? $("realm-select").value : $("realm-input").value.trim();
  if (conns.has(realm)) { // signed in there already
    $("secret").value = "";
    show(conns.get(realm));
    return;
  }
  const authid = $("authid").value.trim();
  const secret = $("secret").value;
  $("login-error").textContent = "";
  $("signin").disabled = true;
  const c = { realm, authid, w: null };
  const session = new Wampy(wsURL(), {
    realm,
    authid,
    authmethods: ["ticket"],
    onChallenge: () => secret,
    autoReconnect: false,
    onClose: () => { if (conns.get(realm) === c) { forget(c); setStatus("disconnected from " + realm, "down"); } },
  });
  try {
    await session.connect();
  } catch (e) {
    $("login-error").textContent = "sign-in refused: " + errText(e);
    $("signin").disabled = false;
    return;
  }
  c.w = session;
  conns.set(realm, c);
  $("secret").value = "";
  $("signin").disabled = false;
  // Meta events of a realm not on screen are ignored.
  const watch = (topic, fn) => session.subscribe(topic, () => { if (cur === c) fn(); });
  try {
    await watch("wamp.session.on_join", queueSessions);
    await watch("wamp.session.on_leave", queueSessions);
    for (const t of ["wamp.registration.on_create", "wamp.registration.on_delete", "wamp.registration.on_register",
      "wamp.registration.on_unregister", "wamp.subscription.on_create", "wamp.subscription.on_delete",
      "wamp.subscription.on_subscribe", "wamp.subscription.on_unsubscribe"]) {
      watch(t, queueIndexes).catch(() => {});
    }
  } catch (e) {
    setStatus("meta API: " + errText(e), "down");
  }
  show(c);
}

// show puts the realm of c on screen.
function show(c) {
  if (cur !== c) {
    cur = c;
    view = newView();
    $("session-filter").value = "";
    $("sessions").tBodies[0].replaceChildren();
    $("registrations").tBodies[0].replaceChildren();
    $("subscriptions").tBodies[0].replaceChildren();
  }
  $("login").hidden = true;
  $("main").hidden = false;
  $("signout").hidden = false;
  $("add-realm").hidden = false;
  $("realm-name").textContent = c.realm;
  $("realms").textContent = cfg.realms.length > 1 ? "served: " + cfg.realms.join(", ") : "";
  renderTabs();
  setStatus("signed in to " + c.realm + " as " + c.authid + " (session " + c.w.getSessionId() + ")", "up");
  if (timers.length === 0) {
    timers.push(setInterval(refreshSessions, REFRESH_MS));
    timers.push(setInterval(refreshIndexes, REFRESH_MS));
    timers.push(setInterval(pollStats, 1000));
  }
  refreshSessions();
  refreshIndexes();
  pollStats();
}

function renderTabs() {
  const frag = document.createDocumentFragment();
  for (const c of conns.values()) {
    const b = document.createElement("button");
    b.dataset.realm = c.realm;
    b.textContent = c.realm;
    b.title = "signed in as " + c.authid;
    if (c === cur) b.className = "active";
    frag.append(b);
  }
  $("realm-tabs").replaceChildren(frag);
}

// signOut signs out of the realm on screen and shows another one, or
// the sign-in form if none is left.
function signOut() {
  const c = cur;
  if (!c) return;
  forget(c);
  c.w.disconnect().catch(() => {});
}

// forget drops c from the realms signed in to.
function forget(c) {
  conns.delete(c.realm);
  if (cur === c) {
    cur = null;
    const next = conns.values().next().value;
    if (next) {
      show(next);
      return;
    }
    for (const t of timers) clearInterval(t);
    timers = [];
    view = newView();
    chart.points = [];
    chart.last = null;
    $("signout").hidden = true;
    $("add-realm").hidden = true;
    setStatus("signed out");
    showLogin();
  }
  renderTabs();
}

// --- sessions ----------------------------------------------------------------

let sessionsQueued = false;
function queueSessions() {
  if (sessionsQueued) return;
  sessionsQueued = true;
  setTimeout(() => { sessionsQueued = false; refreshSessions(); }, QUEUE_MS);
}

// refreshSessions asks the router for the page of sessions on screen.
async function refreshSessions() {
  const c = cur;
  if (!c) return;
  const seq = ++view.seq;
  const filter = $("session-filter").value;
  let r;
  try {
    [r] = await call(c, "wampkit.session.page", [], { filter, offset: view.page * PAGE, limit: PAGE });
  } catch (e) {
    if (cur === c && seq === view.seq) setStatus("sessions: " + errText(e), "down");
    return;
  }
  if (cur !== c || seq !== view.seq) return; // a later answer is coming
  const pages = Math.max(1, Math.ceil(r.matched / PAGE));
  if (view.page >= pages) { // sessions left: the page is past the end
    view.page = pages - 1;
    refreshSessions();
    return;
  }
  const now = performance.now();
  const prev = new Map();
  for (const d of r.sessions) {
    if (d._messages_in === undefined) continue;
    const p = view.prev.get(d.session);
    if (p) {
      const dt = (now - p.t) / 1000;
      view.rates.set(d.session, { rin: (d._messages_in - p.in) / dt, rout: (d._messages_out - p.out) / dt });
    }
    prev.set(d.session, { t: now, in: d._messages_in, out: d._messages_out });
  }
  view.prev = prev;
  for (const id of view.rates.keys()) if (!prev.has(id)) view.rates.delete(id);
  view.result = r;
  renderSessions();
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : text;
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function rate(v) {
  return v === null || v === undefined ? "" : v.toFixed(1);
}

function renderSessions() {
  const { count, matched, sessions } = view.result;
  const pages = Math.max(1, Math.ceil(matched / PAGE));
  $("session-count").textContent = count;
  $("page").textContent = matched + " match, page " + (view.page + 1) + " of " + pages;
  const own = cur.w.getSessionId();
  const frag = document.createDocumentFragment();
  for (const d of sessions) {
    const t = d.transport || {};
    const r = view.rates.get(d.session) || {};
    const tr = document.createElement("tr");
    tr.dataset.session = d.session;
    tr.dataset.authid = d.authid || "";
    cell(tr, d.session, "num");
    cell(tr, d.authid);
    cell(tr, d.authrole);
    cell(tr, t.type);
    cell(tr, t.peer);
    cell(tr, d._joined ? d._joined.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");
    cell(tr, rate(r.rin), "num");
    cell(tr, rate(r.rout), "num");
    const td = cell(tr, "");
    if (d.session !== own) {
      const b = document.createElement("button");
      b.className = "kill";
      b.dataset.kill = d.session;
      b.textContent = "Kill";
      td.append(b);
    }
    frag.append(tr);
  }
  $("sessions").tBodies[0].replaceChildren(frag);
}

// A kill takes two clicks: Kill, then Confirm.
async function onKillClick(ev) {
  const b = ev.target.closest("button.kill");
  if (!b || !cur) return;
  if (!b.classList.contains("confirm")) {
    b.classList.add("confirm");
    b.textContent = "Confirm";
    return;
  }
  b.disabled = true;
  try {
    await cur.w.call("wamp.session.kill", { argsList: [Number(b.dataset.kill)], argsDict: { message: "killed from the console" } });
  } catch (e) {
    setStatus("kill: " + errText(e), "down");
  }
}

// --- registrations and subscriptions ------------------------------------------

let indexesQueued = false;
function queueIndexes() {
  if (indexesQueued) return;
  indexesQueued = true;
  setTimeout(() => { indexesQueued = false; refreshIndexes(); }, QUEUE_MS);
}

async function refreshIndexes() {
  const c = cur;
  if (!c) return;
  try {
    await Promise.all([refreshRegistrations(c), refreshSubscriptions(c)]);
  } catch (e) { /* the next refresh tries again */ }
}

function ids(lists) {
  return [...(lists.exact || []), ...(lists.prefix || []), ...(lists.wildcard || [])];
}

async function refreshRegistrations(c) {
  const all = ids((await call(c, "wamp.registration.list"))[0] || {});
  const rows = await Promise.all(all.slice(0, MAX_ROWS).map(async (id) => {
    try {
      const [d] = await call(c, "wamp.registration.get", [id]);
      const [callees] = await call(c, "wamp.registration.list_callees", [id]);
      return { d, callees };
    } catch (e) { return null; }
  }));
  if (cur !== c) return;
  $("reg-count").textContent = all.length;
  const frag = document.createDocumentFragment();
  for (const r of rows.filter(Boolean).sort((a, b) => a.d.uri.localeCompare(b.d.uri))) {
    const tr = document.createElement("tr");
    tr.dataset.uri = r.d.uri;
    cell(tr, r.d.uri);
    cell(tr, r.d.match);
    cell(tr, r.d.invoke);
    cell(tr, r.callees.join(", "));
    cell(tr, r.d._invocations, "num");
    frag.append(tr);
  }
  $("registrations").tBodies[0].replaceChildren(frag);
}

async function refreshSubscriptions(c) {
  const all = ids((await call(c, "wamp.subscription.list"))[0] || {});
  const rows = await Promise.all(all.slice(0, MAX_ROWS).map(async (id) => {
    try {
      const [d] = await call(c, "wamp.subscription.get", [id]);
      const [n] = await call(c, "wamp.subscription.count_subscribers", [id]);
      return { d, n };
    } catch (e) { return null; }
  }));
  if (cur !== c) return;
  $("sub-count").textContent = all.length;
  const frag = document.createDocumentFragment();
  for (const r of rows.filter(Boolean).sort((a, b) => a.d.uri.localeCompare(b.d.uri))) {
    const tr = document.createElement("tr");
    tr.dataset.uri = r.d.uri;
    cell(tr, r.d.uri);
    cell(tr, r.d.match);
    cell(tr, r.n, "num");
    frag.append(tr);
  }
  $("subscriptions").tBodies[0].replaceChildren(frag);
}

// --- call and publish ------------------------------------------------------------

function parseJSON(text, fallback, want) {
  if (!text.trim()) return fallback;
  const v = JSON.parse(text);
  if (want === "list" ? !Array.isArray(v) : (typeof v !== "object" || v === null || Array.isArray(v))) {
    throw new Error("want a JSON " + (want === "list" ? "list" : "object"));
  }
  return v;
}

async function doCall() {
  const out = $("call-result");
  out.className = "";
  try {
    const args = parseJSON($("call-args").value, [], "list");
    const kwargs = parseJSON($("call-kwargs").value, {}, "dict");
    const r = await cur.w.call($("call-proc").value.trim(), { argsList: args, argsDict: kwargs });
    out.textContent = JSON.stringify({ args: r.argsList || [], kwargs: r.argsDict || {} });
  } catch (e) {
    out.className = "error";
    out.textContent = errText(e);
  }
}

async function doPublish() {
  const out = $("pub-result");
  out.className = "";
  try {
    const args = parseJSON($("pub-args").value, [], "list");
    const kwargs = parseJSON($("pub-kwargs").value, {}, "dict");
    const r = await cur.w.publish($("pub-topic").value.trim(), { argsList: args, argsDict: kwargs }, { acknowledge: true });
    out.textContent = "published " + (r && r.publicationId ? r.publicationId : "");
  } catch (e) {
    out.className = "error";
    out.textContent = errText(e);
  }
}

// --- chart ---------------------------------------------------------------------

// The chart shows the router's messages per second, from the counts of
// wampkit.router.stats (the router's, not the realm's: it goes on across
// realm switches).
const chart = { points: [], last: null };

async function pollStats() {
  const c = cur;
  if (!c) return;
  let s;
  try {
    [s] = await call(c, "wampkit.router.stats");
  } catch (e) {
    $("rate").textContent = "unavailable: " + errText(e);
    return;
  }
  $("router-sessions").textContent = "· " + s.sessions + " sessions";
  if (s.messages_in === undefined) {
    $("rate").textContent = "unavailable: the router counts no messages (no metrics)";
    return;
  }
  const now = performance.now();
  const total = s.messages_in + s.messages_out;
  if (chart.last) {
    const r = (total - chart.last.total) / ((now - chart.last.t) / 1000);
    chart.points.push(Math.max(0, r));
    if (chart.points.length > 60) chart.points.shift();
    $("rate").textContent = "now " + r.toFixed(0);
  }
  chart.last = { t: now, total };
  drawChart();
}

function drawChart() {
  const c = $("chart");
  const ctx = c.getContext("2d");
  const wd = c.width, ht = c.height;
  ctx.clearRect(0, 0, wd, ht);
  const max = Math.max(10, ...chart.points);
  ctx.strokeStyle = "#eaeef2";
  ctx.beginPath();
  for (let i = 1; i < 4; i++) { ctx.moveTo(0, (ht * i) / 4); ctx.lineTo(wd, (ht * i) / 4); }
  ctx.stroke();
  ctx.fillStyle = "#656d76";
  ctx.font = "10px system-ui";
  ctx.fillText(max.toFixed(0), 2, 10);
  if (chart.points.length < 2) return;
  ctx.strokeStyle = "#0969da";
  ctx.lineWidth = 2;
  ctx.beginPath();
  chart.points.forEach((v, i) => {
    const x = (wd * i) / 59;
    const y = ht - (v / max) * (ht - 12);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

init();
