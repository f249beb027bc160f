// The wampkit console: signs in to a realm over WAMP (wampy.js) and shows
// the realm from the meta API. Lists are paged: only the rows on screen
// are rendered and refreshed, so that 10,000 sessions stay cheap.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 50;          // session rows per page
const MAX_ROWS = 200;     // registrations and subscriptions shown
const REFRESH_MS = 2000;  // refresh of the rows on screen

let cfg = { realms: [], url: "ws", version: "", stats: false };
let w = null;             // the Wampy session
let timers = [];
const sessions = new Map(); // id -> {id, d: details or null, rin, rout, prev}
let page = 0;
let renderQueued = false;

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

async function call(proc, args) {
  const r = await w.call(proc, args === undefined ? undefined : { argsList: args });
  return r.argsList || [];
}

// --- sign in -------------------------------------------------------------

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
  $("signout").addEventListener("click", signOut);
  $("session-filter").addEventListener("input", () => { page = 0; queueRender(); });
  $("prev").addEventListener("click", () => { page = Math.max(0, page - 1); queueRender(); refreshVisible(); });
  $("next").addEventListener("click", () => { page++; queueRender(); refreshVisible(); });
  $("sessions").addEventListener("click", onKillClick);
  $("call-form").addEventListener("submit", (ev) => { ev.preventDefault(); doCall(); });
  $("pub-form").addEventListener("submit", (ev) => { ev.preventDefault(); doPublish(); });
}

async function signIn() {
  const realm = cfg.realms.length > 0 ? $("realm-select").value : $("realm-input").value.trim();
  const authid = $("authid").value.trim();
  const secret = $("secret").value;
  $("login-error").textContent = "";
  $("signin").disabled = true;
  setStatus("signing in…");
  const session = new Wampy(wsURL(), {
    realm,
    authid,
    authmethods: ["ticket"],
    onChallenge: () => secret,
    autoReconnect: false,
    onClose: () => { if (w === session) { signOut(); setStatus("disconnected", "down"); } },
  });
  try {
    await session.connect();
  } catch (e) {
    $("login-error").textContent = "sign-in refused: " + errText(e);
    $("signin").disabled = false;
    setStatus("signed out");
    return;
  }
  w = session;
  $("secret").value = "";
  $("signin").disabled = false;
  $("login").hidden = true;
  $("main").hidden = false;
  $("signout").hidden = false;
  $("realm-name").textContent = realm;
  $("realms").textContent = cfg.realms.length > 1 ? "served: " + cfg.realms.join(", ") : "";
  setStatus("signed in as " + authid + " (session " + w.getSessionId() + ")", "up");
  start().catch((e) => setStatus("meta API: " + errText(e), "down"));
}

function signOut() {
  const s = w;
  w = null;
  for (const t of timers) clearInterval(t);
  timers = [];
  sessions.clear();
  chart.points = [];
  $("main").hidden = true;
  $("login").hidden = false;
  $("signout").hidden = true;
  setStatus("signed out");
  if (s) s.disconnect().catch(() => {});
}

// --- sessions ------------------------------------------------------------

async function start() {
  await w.subscribe("wamp.session.on_join", ({ argsList }) => {
    const d = argsList[0];
    sessions.set(d.session, { id: d.session, d, rin: null, rout: null, prev: null });
    queueRender();
  });
  await w.subscribe("wamp.session.on_leave", ({ argsList }) => {
    sessions.delete(argsList[0]);
    queueRender();
  });
  const ids = (await call("wamp.session.list"))[0] || [];
  for (const id of ids) {
    if (!sessions.has(id)) sessions.set(id, { id, d: null, rin: null, rout: null, prev: null });
  }
  queueRender();
  loadDetails();
  for (const t of ["wamp.registration.on_create", "wamp.registration.on_delete", "wamp.registration.on_register",
    "wamp.registration.on_unregister", "wamp.subscription.on_create", "wamp.subscription.on_delete",
    "wamp.subscription.on_subscribe", "wamp.subscription.on_unsubscribe"]) {
    w.subscribe(t, () => queueIndexes()).catch(() => {});
  }
  refreshIndexes();
  timers.push(setInterval(refreshVisible, REFRESH_MS));
  timers.push(setInterval(refreshIndexes, REFRESH_MS));
  if (cfg.stats) {
    timers.push(setInterval(pollStats, 1000));
    pollStats();
  }
}

// loadDetails fetches, a few at a time, the details of the sessions
// known only by ID (those that joined before the console), so that the
// filter can see their authids.
async function loadDetails() {
  const todo = [...sessions.values()].filter((s) => !s.d).map((s) => s.id);
  const worker = async () => {
    while (todo.length > 0 && w) {
      const id = todo.shift();
      await getSession(id);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker(), worker(), worker(), worker(), worker()]);
  queueRender();
}

async function getSession(id) {
  const s = sessions.get(id);
  if (!s || !w) return;
  try {
    const d = (await call("wamp.session.get", [id]))[0];
    const now = performance.now();
    if (s.prev && d._messages_in !== undefined) {
      const dt = (now - s.prev.t) / 1000;
      s.rin = (d._messages_in - s.prev.in) / dt;
      s.rout = (d._messages_out - s.prev.out) / dt;
    }
    if (d._messages_in !== undefined) s.prev = { t: now, in: d._messages_in, out: d._messages_out };
    s.d = d;
  } catch (e) {
    if (e && e.errorUri === "wamp.error.no_such_session") sessions.delete(id);
  }
}

function filtered() {
  const q = $("session-filter").value.trim().toLowerCase();
  const all = [...sessions.values()].sort((a, b) => a.id - b.id);
  if (!q) return all;
  return all.filter((s) => {
    const d = s.d || {};
    const t = d.transport || {};
    return [s.id, d.authid, d.authrole, t.type, t.peer].some((v) => v !== undefined && String(v).toLowerCase().includes(q));
  });
}

function visible() {
  const list = filtered();
  const pages = Math.max(1, Math.ceil(list.length / PAGE));
  page = Math.min(page, pages - 1);
  return { rows: list.slice(page * PAGE, page * PAGE + PAGE), total: list.length, pages };
}

async function refreshVisible() {
  if (!w) return;
  await Promise.all(visible().rows.map((s) => getSession(s.id)));
  queueRender();
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
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

function render() {
  const { rows, total, pages } = visible();
  $("session-count").textContent = sessions.size;
  $("page").textContent = total + " shown, page " + (page + 1) + " of " + pages;
  const tbody = $("sessions").tBodies[0];
  const frag = document.createDocumentFragment();
  for (const s of rows) {
    const d = s.d || {};
    const t = d.transport || {};
    const tr = document.createElement("tr");
    tr.dataset.session = s.id;
    tr.dataset.authid = d.authid || "";
    cell(tr, s.id, "num");
    cell(tr, d.authid);
    cell(tr, d.authrole);
    cell(tr, t.type);
    cell(tr, t.peer);
    cell(tr, d._joined ? d._joined.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");
    cell(tr, rate(s.rin), "num");
    cell(tr, rate(s.rout), "num");
    const td = cell(tr, "");
    if (s.id !== w.getSessionId()) {
      const b = document.createElement("button");
      b.className = "kill";
      b.dataset.kill = s.id;
      b.textContent = "Kill";
      td.append(b);
    }
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
}

// A kill takes two clicks: Kill, then Confirm.
async function onKillClick(ev) {
  const b = ev.target.closest("button.kill");
  if (!b) return;
  if (!b.classList.contains("confirm")) {
    b.classList.add("confirm");
    b.textContent = "Confirm";
    return;
  }
  b.disabled = true;
  try {
    await w.call("wamp.session.kill", { argsList: [Number(b.dataset.kill)], argsDict: { message: "killed from the console" } });
  } catch (e) {
    setStatus("kill: " + errText(e), "down");
  }
}

// --- registrations and subscriptions --------------------------------------

let indexesQueued = false;
function queueIndexes() {
  if (indexesQueued) return;
  indexesQueued = true;
  setTimeout(() => { indexesQueued = false; refreshIndexes(); }, 200);
}

async function refreshIndexes() {
  if (!w) return;
  try {
    await Promise.all([refreshRegistrations(), refreshSubscriptions()]);
  } catch (e) { /* the next refresh tries again */ }
}

function ids(lists) {
  return [...(lists.exact || []), ...(lists.prefix || []), ...(lists.wildcard || [])];
}

async function refreshRegistrations() {
  const all = ids((await call("wamp.registration.list"))[0] || {});
  $("reg-count").textContent = all.length;
  const rows = await Promise.all(all.slice(0, MAX_ROWS).map(async (id) => {
    try {
      const [d] = await call("wamp.registration.get", [id]);
      const [callees] = await call("wamp.registration.list_callees", [id]);
      return { d, callees };
    } catch (e) { return null; }
  }));
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

async function refreshSubscriptions() {
  const all = ids((await call("wamp.subscription.list"))[0] || {});
  $("sub-count").textContent = all.length;
  const rows = await Promise.all(all.slice(0, MAX_ROWS).map(async (id) => {
    try {
      const [d] = await call("wamp.subscription.get", [id]);
      const [n] = await call("wamp.subscription.count_subscribers", [id]);
      return { d, n };
    } catch (e) { return null; }
  }));
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

// --- call and publish -------------------------------------------------------

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
    const r = await w.call($("call-proc").value.trim(), { argsList: args, argsDict: kwargs });
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
    const r = await w.publish($("pub-topic").value.trim(), { argsList: args, argsDict: kwargs }, { acknowledge: true });
    out.textContent = "published " + (r && r.publicationId ? r.publicationId : "");
  } catch (e) {
    out.className = "error";
    out.textContent = errText(e);
  }
}

// --- chart -------------------------------------------------------------------

const chart = { points: [], last: null };

async function pollStats() {
  if (!w) return;
  let s;
  try {
    s = await (await fetch("stats.json", { cache: "no-store" })).json();
  } catch (e) { return; }
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
