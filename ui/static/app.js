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
    const err = new Error(msg);
    err.code = data && data.code;
    throw err;
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
  src.addEventListener("pull", (msg) => onPull(JSON.parse(msg.data)));
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
  await fillAssign(mac);
  $("timeline").hidden = false;
  $("timeline").scrollIntoView();
}

// fillAssign shows the machine's profile and hostname in the timeline's
// form, for a machine pixie has no record of too.
async function fillAssign(mac) {
  $("tl-msg").textContent = "";
  try {
    if (!profileList.length) profileList = await call("GET", "/v1/profiles");
  } catch (e) {
    notice(e.message);
  }
  const b = machines.get(mac);
  const sel = profileSelect(b ? b.summary.profile : "");
  sel.id = "tl-profile";
  $("tl-profile").replaceWith(sel);
  $("tl-hostname").value = b && b.summary.hostname ? b.summary.hostname : "";
}

async function assignFromTimeline(ev) {
  ev.preventDefault();
  const mac = openTimeline, msg = $("tl-msg");
  try {
    let m;
    try {
      m = await call("GET", `/v1/machines/${encodeURIComponent(mac)}`);
    } catch (e) {
      if (e.code !== "not_found") throw e;
      m = { mac }; // no record yet: this makes one
    }
    m.profile = $("tl-profile").value;
    m.hostname = $("tl-hostname").value.trim();
    await call("PUT", `/v1/machines/${encodeURIComponent(mac)}`, m);
    msg.className = "ok";
    msg.textContent = `saved: the next boot of ${mac} gets profile ${m.profile}`;
    loadBoots();
  } catch (e) {
    msg.className = "warn";
    msg.textContent = e.message;
  }
}

function renderTimeline(mac) {
  const m = machines.get(mac);
  $("tl-mac").textContent = mac;
  $("tl-rows").replaceChildren(...(m ? m.events : []).map((e) => el("tr", {},
    el("td", {}, new Date(e.time).toLocaleTimeString()), el("td", {}, e.stage),
    el("td", {}, e.ip || "–"), el("td", {}, e.arch || "–"), el("td", {}, e.detail || ""))));
}

// --- tabs ---------------------------------------------------------------

const TABS = ["boots", "machines", "profiles", "images"];
let profileList = [];

function showTab(name) {
  if (!TABS.includes(name)) name = "boots";
  for (const t of TABS) $("tab-" + t).hidden = t !== name;
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("on", a.dataset.tab === name);
  if (name === "machines") loadMachines();
  if (name === "profiles") loadProfiles();
  if (name === "images") loadImages();
}

function tabFromHash() {
  const h = location.hash.replace(/^#/, "");
  return h.startsWith("timeline=") ? "boots" : h;
}

// --- machines -----------------------------------------------------------

function varsText(v) {
  return Object.entries(v || {}).map(([k, x]) => `${k}=${x}`).join(" ");
}

function parseVars(text) {
  const out = {};
  for (const kv of text.split(/\s+/).filter(Boolean)) {
    const i = kv.indexOf("=");
    if (i < 1) throw new Error(`variable "${kv}": write NAME=value`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

async function loadMachines() {
  let list;
  try {
    [list, profileList] = await Promise.all([call("GET", "/v1/machines"), call("GET", "/v1/profiles")]);
  } catch (e) {
    notice(e.message);
    return;
  }
  const body = $("machines");
  if (!list.length) {
    body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: "7" }, "No machine records yet: machines get one when you assign them a profile.")));
    return;
  }
  body.replaceChildren(...list.map(machineRow));
}

function profileSelect(current) {
  const sel = el("select", {});
  for (const p of profileList) {
    const o = el("option", { value: p.name }, p.name);
    if (p.name === current) o.selected = true;
    sel.append(o);
  }
  return sel;
}

function machineRow(m) {
  const host = el("input", { value: m.hostname || "", size: "12", "aria-label": "hostname" });
  const prof = profileSelect(m.profile);
  const vars = el("input", { value: varsText(m.vars), size: "20", placeholder: "NAME=value …", "aria-label": "variables" });
  const ip = el("input", { value: m.ip || "", size: "15", placeholder: "none", "aria-label": "reserved address" });
  const save = el("button", { type: "button" }, "Save");
  const forget = el("button", { type: "button", class: "ghost" }, "Forget");
  const msg = el("span", { class: "muted" });
  save.addEventListener("click", async () => {
    try {
      const next = Object.assign({}, m, { hostname: host.value.trim(), profile: prof.value, vars: parseVars(vars.value), ip: ip.value.trim() });
      await call("PUT", `/v1/machines/${encodeURIComponent(m.mac)}`, next);
      msg.className = "ok";
      msg.textContent = "saved: the next boot uses it";
    } catch (e) {
      msg.className = "warn";
      msg.textContent = e.message;
    }
  });
  forget.addEventListener("click", async () => {
    if (!confirm(`Forget ${m.mac}? It will boot the default profile next time.`)) return;
    try {
      await call("DELETE", `/v1/machines/${encodeURIComponent(m.mac)}`);
      loadMachines();
    } catch (e) {
      msg.className = "warn";
      msg.textContent = e.message;
    }
  });
  const loader = m.loader && m.loader !== "auto" ? m.loader : "auto" + (m.loader_step ? ` → ${m.loader_step}` : "");
  return el("tr", { "data-mac": m.mac }, el("td", { class: "mac" }, m.mac), el("td", {}, host), el("td", {}, prof),
    el("td", {}, vars), el("td", {}, ip), el("td", { class: "muted" }, loader), el("td", {}, save, " ", forget, " ", msg));
}

// --- profiles -----------------------------------------------------------

async function loadProfiles() {
  try {
    profileList = await call("GET", "/v1/profiles");
  } catch (e) {
    notice(e.message);
    return;
  }
  $("profiles").replaceChildren(...profileList.map((p) => {
    const tr = el("tr", { class: "clickable", "data-profile": p.name }, el("td", {}, el("b", {}, p.name)), el("td", {}, p.os || "generic"),
      el("td", { class: "muted" }, p.kernel || "–"), el("td", { class: "muted" }, p.description || ""));
    tr.addEventListener("click", () => editProfile(p.name));
    return tr;
  }));
}

async function editProfile(name) {
  let p;
  try {
    p = await call("GET", `/v1/profiles/${encodeURIComponent(name)}`);
  } catch (e) {
    notice(e.message);
    return;
  }
  $("pf-edit").hidden = false;
  $("pf-edit").dataset.name = name;
  $("pfe-name").textContent = name;
  $("pfe-config").value = p.ignition || "";
  const details = [["OS", p.os || "generic"], ["Kernel", p.kernel], ["Initrds", (p.initrds || []).join(", ")],
    ["Arguments", p.args], ["Phone home", p.phone_home || "default"], ["Ignition spec", p.ignition_spec || "from the OS"],
    ["Variables", varsText(p.vars)], ["Description", p.description]];
  $("pfe-details").replaceChildren(...details.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("pfe-error").hidden = true;
  $("pfe-msg").textContent = "";
}

// errorLine finds "line N col M" (pixie's and Butane's wording) in a
// validation message.
function errorLine(msg) {
  const m = msg.match(/line (\d+),? col(?:umn)? (\d+)/i);
  return m ? { line: +m[1], col: +m[2] } : null;
}

async function saveProfile(ev) {
  ev.preventDefault();
  const name = $("pf-edit").dataset.name;
  const ta = $("pfe-config"), err = $("pfe-error"), msg = $("pfe-msg");
  err.hidden = true;
  msg.textContent = "";
  try {
    const p = await call("GET", `/v1/profiles/${encodeURIComponent(name)}`);
    p.ignition = ta.value;
    await call("PUT", `/v1/profiles/${encodeURIComponent(name)}`, p);
    msg.className = "ok";
    msg.textContent = "saved";
  } catch (e) {
    const at = errorLine(e.message);
    err.textContent = at ? `Line ${at.line}, column ${at.col}: ${e.message}` : e.message;
    err.dataset.line = at ? at.line : "";
    err.dataset.col = at ? at.col : "";
    err.hidden = false;
    if (at) { // put the cursor where the config is wrong
      const lines = ta.value.split("\n");
      let pos = 0;
      for (let i = 0; i < at.line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
      pos += Math.max(0, at.col - 1);
      ta.focus();
      ta.setSelectionRange(pos, pos + 1);
    }
  }
}

async function createProfile(ev) {
  ev.preventDefault();
  const msg = $("pfc-msg");
  const os = $("pfc-os").value, stream = $("pfc-stream").value.trim();
  const req = { profile: { name: $("pfc-name").value.trim(), os }, save: "create", given: ["os"] };
  if (stream) {
    if (os === "flatcar") { req.channel = stream; req.given.push("channel"); } else { req.stream = stream; req.given.push("stream"); }
  }
  const key = $("pfc-key").value.trim();
  if (key) { req.ssh_keys = [key]; req.given.push("ssh-key"); }
  try {
    await call("POST", "/v1/profiles/from-os", req);
    msg.className = "ok";
    msg.textContent = "created";
    $("pf-create").hidden = true;
    loadProfiles();
  } catch (e) {
    msg.className = "warn";
    msg.textContent = e.message;
  }
}

// --- images and pulls ---------------------------------------------------

const pulls = new Map(); // id -> latest snapshot

async function loadImages() {
  let list;
  try {
    list = await call("GET", "/v1/images");
    for (const p of await call("GET", "/v1/pulls")) pulls.set(p.id, p);
  } catch (e) {
    notice(e.message);
    return;
  }
  renderPulls();
  const body = $("images");
  if (!list.length) {
    body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: "9" }, "No image pulled yet: pull one above.")));
    return;
  }
  body.replaceChildren(...list.map((im) => {
    const size = (im.files || []).reduce((n, f) => n + f.size, 0);
    const rm = el("button", { type: "button", class: "ghost" }, "Remove");
    rm.addEventListener("click", async () => {
      if (!confirm(`Remove ${im.id}? Profiles that boot it stop working until you pull it again.`)) return;
      try {
        await call("DELETE", `/v1/images/${im.id.split("/").map(encodeURIComponent).join("/")}`);
        loadImages();
      } catch (e) {
        notice(e.message);
      }
    });
    return el("tr", { "data-image": im.id }, el("td", { class: "mac" }, im.id), el("td", {}, im.os), el("td", {}, im.stream || "–"),
      el("td", {}, im.arch || "–"), el("td", {}, im.version), el("td", {}, `${(size / 1048576).toFixed(1)} MiB`),
      el("td", {}, im.loaders || "–"), el("td", { class: "muted" }, ago(im.pulled_at)), el("td", {}, rm));
  }));
}

function renderPulls() {
  const recent = [...pulls.values()].filter((p) => p.state === "running" || Date.now() - new Date(p.ended_at || 0) < 120000);
  $("pulls").replaceChildren(...recent.map((p) => {
    const total = (p.files || []).reduce((n, f) => n + Math.max(0, f.total), 0);
    const done = (p.files || []).reduce((n, f) => n + f.done, 0);
    const pct = total > 0 ? Math.min(100, (100 * done) / total) : (p.state === "done" ? 100 : 0);
    const head = `${p.key}: ${p.state}` + (total ? ` · ${(done / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MiB` : "");
    const inner = el("div", { class: "bar-inner" });
    inner.style.width = `${pct.toFixed(1)}%`; // CSSOM: the CSP forbids style attributes
    const bar = el("div", { class: "bar-outer" }, inner);
    const box = el("div", { class: "pull", "data-pull": p.id, "data-state": p.state, "data-pct": pct.toFixed(0) }, el("div", {}, head), bar);
    if (p.error) box.append(el("div", { class: "warn" }, p.error));
    return box;
  }));
}

function onPull(p) {
  pulls.set(p.id, p);
  if (!$("tab-images").hidden) {
    renderPulls();
    if (p.state !== "running") loadImages();
  }
}

async function startPull(ev) {
  ev.preventDefault();
  const os = $("pull-os").value;
  let req;
  if (os === "generic") {
    const [url, frag] = $("pull-url").value.trim().split("#");
    req = { os, name: $("pull-name").value.trim(), files: [{ url, sha256: (frag || "").replace(/^sha256=/, "") }] };
  } else {
    req = { os, stream: $("pull-stream").value.trim(), arch: $("pull-arch").value };
    const mirror = $("pull-mirror").value.trim();
    if (mirror) req.mirror = mirror;
  }
  try {
    const p = await call("POST", "/v1/pulls", req);
    pulls.set(p.id, p);
    renderPulls();
  } catch (e) {
    notice(e.message);
  }
}

$("toggle").addEventListener("click", toggle);
$("pf-edit").addEventListener("submit", saveProfile);
$("pf-create").addEventListener("submit", createProfile);
$("pf-new").addEventListener("click", () => { $("pf-create").hidden = !$("pf-create").hidden; });
$("pull").addEventListener("submit", startPull);
$("pull-os").addEventListener("change", () => {
  const generic = $("pull-os").value === "generic";
  $("pull-generic").hidden = !generic;
  $("pull-distro").hidden = generic;
});
$("tl-assign").addEventListener("submit", assignFromTimeline);
window.addEventListener("hashchange", () => showTab(tabFromHash()));
showTab(tabFromHash());
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
