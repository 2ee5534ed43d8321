// pixie dashboard: a thin client of the control API (through pixie ui's
// proxy at /api/v1/). No framework and no build step: the page is small
// enough to read.
"use strict";

const csrf = document.querySelector('meta[name="pixie-csrf"]').content;
const $ = (id) => document.getElementById(id);

// The stages a boot goes through, in order, as the timeline records them.
const STEPS = [
  ["dhcp", "DHCP"], ["tftp", "TFTP"], ["script", "Script"], ["kernel", "Kernel"],
  ["initrd", "Initrd"], ["ignition", "Ignition"], ["booted", "Booted"],
];
const STEP_INDEX = Object.fromEntries(STEPS.map(([s], i) => [s, i]));
// A DHCP request this long after the last event, or after the kernel was
// fetched, starts a new boot.
const NEW_BOOT_GAP_MS = 10 * 60 * 1000;

const machines = new Map(); // mac -> {summary, events}
let lastEventID = -1;
let openTimeline = "";

async function call(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") opts.headers["X-Pixie-CSRF"] = csrf;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch("/api" + path, opts);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  if (!resp.ok) {
    const msg = data && data.message ? data.message : `pixie answered ${resp.status}`;
    throw new Error(msg);
  }
  return data;
}

function notice(msg) {
  const n = $("notice");
  n.hidden = !msg;
  n.textContent = msg || "";
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function ago(t) {
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  if (s < 10) return "just now";
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

function secs(ms) {
  return ms < 10000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

// --- status -------------------------------------------------------------

let status = null;

async function loadStatus() {
  try {
    status = await call("GET", "/v1/status");
    notice("");
  } catch (e) {
    status = null;
    notice(e.message);
  }
  renderStatus();
}

function renderStatus() {
  const pill = $("state"), toggle = $("toggle");
  if (!status) {
    pill.dataset.state = "down";
    pill.textContent = "daemon not answering";
    toggle.disabled = true;
    return;
  }
  const state = status.paused ? "paused" : status.serving ? "serving" : "problem";
  pill.dataset.state = state;
  pill.textContent = { paused: "paused", serving: "serving", problem: "not serving" }[state];
  toggle.disabled = false;
  toggle.textContent = status.paused ? "Offer network boot" : "Pause network boot";
  $("st-iface").textContent = status.interface ? `${status.interface} ${status.address || ""}` : "–";
  $("st-url").textContent = status.boot_url || "";
  const d = status.dhcp || {};
  $("st-dhcp").textContent = d.mode === "full"
    ? `full DHCP, ${d.pool_used || 0} of ${d.pool_size || 0} leased (${d.pool || ""})`
    : d.mode === "proxy" ? "proxy (the LAN's DHCP server hands out addresses)" : (d.mode || "–");
  $("st-path").textContent = d.warning || status.dhcp_link_layer || "";
  $("st-path").className = d.warning ? "warn" : "muted";
  $("st-loader").textContent = status.efi_file ? `${status.efi_file} (--efi-file)` : (status.default_loader || "auto") + (status.default_loader === "auto" || !status.default_loader ? " (snponly → ipxe → shim)" : "");
  const fw = $("st-firmware");
  fw.replaceChildren();
  for (const f of status.firmware || []) {
    const names = (f.files || []).map((x) => x.name).join(", ") || "none";
    const li = el("li", {}, el("b", {}, f.arch), " ", names);
    if (f.missing && f.missing.length) li.append(el("span", { class: "muted" }, ` (missing ${f.missing.join(", ")})`));
    fw.append(li);
  }
  const problem = $("st-problem");
  problem.hidden = !status.problem;
  problem.textContent = status.problem || "";
  const rows = Object.entries(status.counters || {}).sort(([a], [b]) => a.localeCompare(b));
  $("st-counters").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, String(v)))));
  $("footer").textContent = `pixie ${status.version || ""} · data in ${status.data_dir || "?"}`;
}

async function toggle() {
  const btn = $("toggle");
  btn.disabled = true;
  try {
    await call("POST", status && status.paused ? "/v1/resume" : "/v1/pause");
  } catch (e) {
    notice(e.message);
  }
  await loadStatus();
}

// --- boots --------------------------------------------------------------

// currentBoot returns the events of the machine's newest boot.
function currentBoot(events) {
  let start = 0;
  for (let i = 1; i < events.length; i++) {
    const e = events[i], prev = events[i - 1];
    if (e.stage !== "dhcp") continue;
    const gap = new Date(e.time) - new Date(prev.time);
    const reached = Math.max(...events.slice(start, i).map((x) => STEP_INDEX[x.stage] ?? -1));
    if (gap > NEW_BOOT_GAP_MS || reached >= STEP_INDEX.kernel) start = i;
  }
  return events.slice(start);
}

// steps says, per stage of the newest boot, when it was first reached and
// how long it took from the stage before.
function steps(events) {
  const boot = currentBoot(events);
  const first = {};
  let failed = false;
  for (const e of boot) {
    if (e.stage === "error") failed = true;
    if (e.stage in STEP_INDEX && !(e.stage in first)) first[e.stage] = new Date(e.time);
  }
  let reached = -1;
  for (const [s] of STEPS) if (s in first) reached = Math.max(reached, STEP_INDEX[s]);
  const last = boot.length ? new Date(boot[boot.length - 1].time) : null;
  const live = last && Date.now() - last < 120000;
  let prev = first.dhcp;
  return STEPS.map(([s, label], i) => {
    let cls = "", took = "";
    if (s in first) {
      cls = "done";
      if (prev && i > 0) took = "+" + secs(first[s] - prev);
      prev = first[s];
    } else if (i === reached + 1 && reached < STEPS.length - 1) {
      cls = failed ? "failed" : live ? "now" : "";
    }
    return { stage: s, label, cls, took };
  });
}

function bootRow(m) {
  const b = m.summary;
  const who = b.hostname || (b.known ? b.mac : "new machine");
  const progress = el("div", { class: "steps" });
  for (const st of steps(m.events)) {
    const chip = el("span", { class: "step " + st.cls, "data-stage": st.stage }, st.label);
    if (st.took) chip.append(el("span", { class: "t" }, st.took));
    progress.append(chip);
  }
  const last = m.events.length ? m.events[m.events.length - 1] : b.last;
  const tr = el("tr", { class: "boot", "data-mac": b.mac },
    el("td", {}, el("div", { class: "mac" }, b.mac), el("div", { class: "muted" }, who)),
    el("td", {}, b.address || "–"),
    el("td", {}, b.profile || "–"),
    el("td", {}, progress, el("div", { class: "muted" }, last && last.detail ? last.detail : "")),
    el("td", { class: "muted" }, last ? ago(last.time) : ""));
  tr.addEventListener("click", () => showTimeline(b.mac));
  return tr;
}

function renderBoots(freshMAC) {
  const body = $("boots");
  const list = [...machines.values()].sort((a, b) => lastTime(b) - lastTime(a));
  $("boots-count").textContent = list.length ? `(${list.length})` : "";
  if (!list.length) return;
  body.replaceChildren(...list.map((m) => {
    const tr = bootRow(m);
    if (m.summary.mac === freshMAC) tr.classList.add("fresh");
    return tr;
  }));
}

function lastTime(m) {
  const e = m.events.length ? m.events[m.events.length - 1] : m.summary.last;
  return e ? new Date(e.time).getTime() : 0;
}

async function loadBoots() {
  let boots;
  try {
    boots = await call("GET", "/v1/boots?limit=50");
  } catch (e) {
    notice(e.message);
    return;
  }
  await Promise.all(boots.map(async (b) => {
    let events = [];
    try {
      events = await call("GET", `/v1/machines/${encodeURIComponent(b.mac)}/timeline?limit=200`);
    } catch (_) { /* the summary alone still shows */ }
    machines.set(b.mac, { summary: b, events });
    for (const e of events) lastEventID = Math.max(lastEventID, e.id);
  }));
  renderBoots();
}

let refetch = null;

function onEvent(e) {
  lastEventID = Math.max(lastEventID, e.id);
  if (!e.mac) { // a server event: paused, address changed…
    loadStatus();
    return;
  }
  const m = machines.get(e.mac);
  if (!m) {
    // A new machine: its summary (profile, address) comes from the daemon.
    clearTimeout(refetch);
    refetch = setTimeout(loadBoots, 150);
    return;
  }
  if (!m.events.some((x) => x.id === e.id)) m.events.push(e);
  m.summary.last = e;
  if (e.ip && e.ip !== "0.0.0.0" && !m.summary.address) m.summary.address = e.ip;
  renderBoots(e.mac);
  if (openTimeline === e.mac) renderTimeline(e.mac);
}

function connectEvents() {
  const src = new EventSource("/api/v1/events" + (lastEventID >= 0 ? `?after=${lastEventID}` : ""));
  src.addEventListener("boot", (msg) => onEvent(JSON.parse(msg.data)));
  src.onopen = () => notice("");
  src.onerror = () => {
    notice("Lost the live connection to pixie; retrying…");
    src.close();
    setTimeout(() => { loadStatus(); connectEvents(); }, 2000);
  };
}

// --- timeline -----------------------------------------------------------

async function showTimeline(mac) {
  openTimeline = mac;
  const m = machines.get(mac);
  try {
    const events = await call("GET", `/v1/machines/${encodeURIComponent(mac)}/timeline?limit=500`);
    if (m) m.events = events;
  } catch (e) {
    notice(e.message);
  }
  renderTimeline(mac);
  $("timeline").hidden = false;
  $("timeline").scrollIntoView({ behavior: "smooth" });
}

function renderTimeline(mac) {
  const m = machines.get(mac);
  $("tl-mac").textContent = mac;
  $("tl-rows").replaceChildren(...(m ? m.events : []).map((e) => el("tr", {},
    el("td", {}, new Date(e.time).toLocaleTimeString()), el("td", {}, e.stage),
    el("td", {}, e.ip || "–"), el("td", {}, e.arch || "–"), el("td", {}, e.detail || ""))));
}

$("toggle").addEventListener("click", toggle);
$("tl-close").addEventListener("click", () => { $("timeline").hidden = true; openTimeline = ""; });
setInterval(loadStatus, 5000);
setInterval(() => renderBoots(), 15000); // "2 min ago" moves on
loadStatus();
loadBoots().then(() => {
  connectEvents();
  // The tray's "Show timeline" opens the page at a machine's timeline.
  const m = location.hash.match(/^#timeline=([0-9a-f:]{17})$/);
  if (m) showTimeline(m[1]);
});
