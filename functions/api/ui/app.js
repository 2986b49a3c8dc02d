// The sfn-agents web UI: plain JavaScript against the HTTP API, no build step, no third-party code.
// Every call sends the API key kept in sessionStorage; URLs are relative to the page, so the same
// files work at the local API's root and under the deployed stage's path.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { key: sessionStorage.getItem("sfn-agents-api-key") || "", session: null, agents: [] };

// ------------------------------------------------------------------ the API
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One call. Beyond the usage plan's rate API Gateway answers 429 "throttled" before the API runs,
// so the call is sent again after a growing pause (a used-up quota is not retried).
async function api(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, {
      method,
      headers: { "x-api-key": state.key, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 429 && data.error === "throttled" && attempt < 6) {
      await pause(Math.min(250 * 2 ** attempt, 4000));
      continue;
    }
    return answered(response, data);
  }
}

function answered(response, data) {
  if (!response.ok) {
    throw new Error(`${response.status} ${data.error || ""}: ${data.message || response.statusText}`);
  }
  return data;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const pretty = (value) => JSON.stringify(value, null, 2);
const tokens = (usage) => (usage ? (usage.input_tokens || 0) + (usage.output_tokens || 0) : 0);
const usd = (value) => `$${Number(value).toFixed(4)}`;
// A run's cost from the receipt in its output: model, transitions and sub-agents, then the total.
const money = (receipt) => (receipt && receipt.cost_usd != null ? usd(receipt.cost_usd) : "—");
const receiptText = (receipt) => !receipt ? "cost —" :
  `cost ${usd(receipt.cost_usd)} (model ${usd(receipt.model_cost_usd)} · ${receipt.transitions} transitions ` +
  `${usd(receipt.transitions_cost_usd)}` +
  (receipt.sub_agents ? ` · ${receipt.sub_agents} sub-agent runs ${usd(receipt.sub_agents_cost_usd)}` : "") + ")";

function parsed(text) {
  try { return JSON.parse(text); } catch { return text; }
}

// A tool result: SQL rows as a table, other JSON pretty-printed, text as it is.
function resultBody(content) {
  const value = parsed(content);
  if (value && Array.isArray(value.columns) && Array.isArray(value.rows)) {
    const table = element("table", { class: "rows" },
      element("thead", {}, element("tr", {}, value.columns.map((c) => element("th", {}, c)))),
      element("tbody", {}, value.rows.map((row) => element("tr", {}, row.map((cell) => element("td", {}, cell))))));
    const note = value.truncated ? element("p", { class: "hint" }, `first ${value.rows.length} rows`) : null;
    return element("div", {}, table, note);
  }
  return element("pre", {}, typeof value === "string" ? value : pretty(value));
}

// ------------------------------------------------------------------ a run as it happens
function approvalButtons(approvalId, onDone) {
  const box = element("div", { class: "decide" });
  const reason = element("input", { type: "text", "aria-label": "Reason", placeholder: "Why not? The model reads this." });
  const confirm = element("button", { type: "button", class: "danger" }, "Confirm reject");
  const rejectForm = element("div", { class: "reject-form", hidden: "" }, reason, confirm);
  const answer = async (verb, body) => {
    try {
      await api("POST", `approvals/${approvalId}/${verb}`, body);
      box.replaceChildren(element("span", { class: "answered" }, verb === "approve" ? "approved" : "rejected"));
      if (onDone) onDone();
    } catch (error) {
      box.append(element("p", { class: "error" }, error.message));
    }
  };
  confirm.addEventListener("click", () => {
    if (!reason.value.trim()) { reason.focus(); return; }
    answer("reject", { reason: reason.value.trim() });
  });
  box.append(
    element("button", { type: "button", onclick: () => answer("approve", {}) }, "Approve"),
    element("button", { type: "button", class: "danger", onclick: () => { rejectForm.hidden = false; reason.focus(); } }, "Reject"),
    rejectForm,
  );
  return box;
}

function renderStep(step, into, run) {
  switch (step.kind) {
    case "model_turn":
      into.append(element("div", { class: "meta" },
        `turn ${step.turn} · ${step.model || ""} · ${step.usage?.input_tokens ?? 0} in / ${step.usage?.output_tokens ?? 0} out tokens`));
      break;
    case "text":
      into.append(element("div", { class: "bubble assistant" }, step.text));
      break;
    case "tool_call":
      run.toolNames[step.id] = step.name;
      into.append(element("details", { class: "tool call", open: "" },
        element("summary", {}, `→ ${step.name}`), element("pre", {}, pretty(step.input))));
      break;
    case "waiting": {
      const card = element("div", { class: "tool waiting", "data-call": step.id || "" },
        element("strong", {}, `${step.name} waits for ${step.wait === "approval" ? "approval" : step.wait}`),
        element("pre", {}, pretty(step.input)));
      if (step.wait === "approval" && step.approval_id) card.append(approvalButtons(step.approval_id));
      into.append(card);
      break;
    }
    case "tool_result": {
      const name = step.name && step.name !== "?" ? step.name : run.toolNames[step.id] || "tool";
      // The wait is over: its buttons give way to what happened.
      into.querySelectorAll(`.tool.waiting[data-call="${CSS.escape(step.id)}"] .decide`).forEach((decide) =>
        decide.replaceChildren(element("span", { class: "answered" }, step.is_error ? "answered: not run" : "answered: ran")));
      into.append(element("details", { class: `tool result${step.is_error ? " failed" : ""}`, open: "" },
        element("summary", {}, `← ${name}${step.is_error ? " · error" : ""}`), resultBody(step.content)));
      break;
    }
    case "error":
      into.append(element("div", { class: "tool failed" }, `${step.error}: ${step.cause}`));
      break;
    case "finished": {
      const output = step.output || {};
      if (step.status === "SUCCEEDED") {
        into.append(element("div", { class: "bubble answer" }, element("strong", {}, "Answer"), element("p", {}, output.answer || "")));
      } else {
        into.append(element("div", { class: "tool failed" }, `${step.status}: ${step.error || ""} ${step.cause || ""}`));
      }
      into.append(element("div", { class: "summary" },
        `${step.status.toLowerCase()} · ${output.turns ?? "?"} turns · ${step.transitions} transitions · ` +
        `${tokens(output.usage)} tokens · ${receiptText(output.receipt)}`));
      break;
    }
    default:
      break;
  }
}

// Follows a run through its events, from the cursor on, until it ends: fast after news, slower
// while nothing happens (the API reads Step Functions' history once per call).
async function follow(runId, into, { live = true } = {}) {
  const run = { toolNames: {} };
  let cursor = "";
  let wait = 300;
  for (;;) {
    const page = await api("GET", `runs/${encodeURIComponent(runId)}/events?after=${encodeURIComponent(cursor)}`);
    page.events.forEach((step) => renderStep(step, into, run));
    cursor = page.next;
    if (page.events.length) into.scrollIntoView?.({ block: "end" });
    if (page.more) continue; // the rest did not fit one response: read on at once
    if (page.status !== "RUNNING" || !live) return page.status;
    wait = page.events.length ? 300 : Math.min(wait * 1.5, 2500);
    await pause(wait);
  }
}

// ------------------------------------------------------------------ chat
function transcriptEntry(prompt) {
  const entry = element("article", { class: "exchange" }, element("div", { class: "bubble user" }, prompt));
  $("#transcript").append(entry);
  return entry;
}

function setSession(id) {
  state.session = id;
  $("#session-label").textContent = id ? `session ${id.slice(0, 8)}` : "new conversation";
}

async function send(event) {
  event.preventDefault();
  const prompt = $("#message").value.trim();
  if (!prompt) return;
  const entry = transcriptEntry(prompt);
  $("#message").value = "";
  try {
    const started = await api("POST", "runs", { agent: $("#agent").value, prompt, ...(state.session ? { session_id: state.session } : {}) });
    setSession(started.session_id);
    await follow(started.run_id, entry);
  } catch (error) {
    entry.append(element("p", { class: "error" }, error.message));
  }
  loadSessions();
}

async function loadSessions() {
  const { runs } = await api("GET", "runs?limit=200");
  const sessions = new Map();
  for (const run of runs.slice().reverse()) {
    if (run.session_id && !sessions.has(run.session_id)) sessions.set(run.session_id, run);
  }
  $("#sessions").replaceChildren(...[...sessions.values()].reverse().map((run) =>
    element("li", {}, element("button", { type: "button", class: run.session_id === state.session ? "current" : "", onclick: () => openSession(run.session_id, run.agent) },
      element("span", {}, run.prompt.slice(0, 60)), element("small", {}, run.agent)))));
}

async function openSession(id, agent) {
  setSession(id);
  $("#agent").value = agent;
  $("#transcript").replaceChildren();
  const { runs } = await api("GET", `runs?session_id=${encodeURIComponent(id)}`);
  for (const run of runs) await follow(run.run_id, transcriptEntry(run.prompt));
  loadSessions();
}

// ------------------------------------------------------------------ approvals
async function loadApprovals() {
  const { approvals } = await api("GET", "approvals");
  $("#pending-count").textContent = approvals.length ? `(${approvals.length})` : "";
  const list = $("#approval-list");
  if (!approvals.length) {
    list.replaceChildren(element("p", { class: "hint" }, "Nothing waits for approval."));
    return;
  }
  list.replaceChildren(...approvals.map((approval) => element("div", { class: "approval", "data-approval": approval.approval_id },
    element("div", { class: "row" }, element("strong", {}, approval.tool), element("span", {}, `for ${approval.agent}`),
      element("small", {}, `requested ${approval.requested_at} · run ${approval.run_id}`)),
    element("pre", {}, pretty(approval.input)),
    approvalButtons(approval.approval_id, () => setTimeout(loadApprovals, 500)))));
}

// ------------------------------------------------------------------ runs
function duration(run) {
  if (!run.stopped) return "running";
  return `${((new Date(run.stopped) - new Date(run.started)) / 1000).toFixed(1)} s`;
}

async function loadRuns() {
  const { runs } = await api("GET", "runs?limit=50");
  $("#run-table tbody").replaceChildren(...runs.map((run) => element("tr", { class: run.status.toLowerCase() },
    element("td", {}, run.status), element("td", {}, run.agent),
    element("td", {}, element("a", { href: `#run/${run.run_id}`, onclick: (e) => { e.preventDefault(); showRun(run); } }, run.prompt.slice(0, 80))),
    element("td", {}, run.started), element("td", {}, duration(run)), element("td", {}, run.turns ?? "—"),
    element("td", {}, tokens(run.usage) || "—"), element("td", {}, money(run.receipt)))));
}

async function showRun(run) {
  const detail = $("#run-detail");
  detail.replaceChildren(element("h3", {}, `${run.agent} · ${run.run_id}`), element("div", { class: "bubble user" }, run.prompt));
  await follow(run.run_id, detail, { live: run.status === "RUNNING" });
}

// ------------------------------------------------------------------ views and the key
const loaders = { chat: loadSessions, approvals: loadApprovals, runs: loadRuns };

function show(view) {
  document.querySelectorAll(".view").forEach((section) => { section.hidden = section.id !== view; });
  document.querySelectorAll("nav button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === view)));
  if (state.key) loaders[view]().catch((error) => $("#key-status").textContent = error.message);
}

async function useKey(key) {
  state.key = key;
  try {
    const { agents } = await api("GET", "agents");
    sessionStorage.setItem("sfn-agents-api-key", key);
    state.agents = agents;
    $("#agent").replaceChildren(...agents.map((a) => element("option", { value: a.name, title: a.description }, a.name)));
    $("#key-status").textContent = "connected";
    document.body.classList.add("connected");
    loadSessions();
  } catch (error) {
    sessionStorage.removeItem("sfn-agents-api-key");
    $("#key-status").textContent = error.message;
  }
}

$("#key-form").addEventListener("submit", (event) => { event.preventDefault(); useKey($("#api-key").value); });
$("#send-form").addEventListener("submit", send);
$("#new-session").addEventListener("click", () => { setSession(null); $("#transcript").replaceChildren(); loadSessions(); });
document.querySelectorAll("nav button").forEach((button) => button.addEventListener("click", () => show(button.dataset.view)));
setSession(null);
if (state.key) { $("#api-key").value = state.key; useKey(state.key); }
