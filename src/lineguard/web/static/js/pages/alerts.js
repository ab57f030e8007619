// Alerts: a page of alerts newest first (GET /dashboard/alerts/page, keyed paging), each
// with its part and where its review stands, then new alerts pushed by the server over
// Server-Sent Events (GET /dashboard/alerts/stream) without a reload. The stream starts
// with the last minutes' alerts: each is put in its place by time (never on top of newer
// ones), and only on the first page, since older ones belong to later pages. Filters,
// grouping and the page live in the URL, so a link or a reload shows the same list.
// Acknowledging from the list uses the review route with the version shown.

import { API, api, can, lastRequestWins } from "../api.js";
import { $, badge, clear, el, explain, fmtTime, status } from "../dom.js";
import { startPage } from "../layout.js";
import { STATE_LABEL, STATE_TONE, acknowledge, explainStep } from "../review.js";

const PAGE_SIZES = ["10", "25", "50", "100"];
const MAX_SHOWN = 200;
const FILTERS = ["severity", "state", "line", "class", "group", "size"];

let who = null;
let items = []; // {alert, part_id, review, fresh}
let next = null; // cursor of the next (older) page
let loadedAt = null; // newest raised_at shown when the page loaded (later ones are "new")
// A list asked for last is the one shown: a filter changed while the list loads, or a page
// turned while a pushed alert's refresh of the first page is on its way, must not be undone
// by the earlier request's late answer. The feed is aria-busy while the list asked for loads.
const listTurn = lastRequestWins();

function params() {
  return new URLSearchParams(location.search);
}

function pageSize() {
  const size = params().get("size");
  return PAGE_SIZES.includes(size) ? Number(size) : 50;
}

function firstPage() {
  return !params().get("before");
}

function readForm() {
  const form = {};
  for (const name of FILTERS) form[name] = $(`#f-${name}`).value.trim();
  return form;
}

function fillForm() {
  const p = params();
  for (const name of FILTERS) $(`#f-${name}`).value = p.get(name) || "";
}

function go(form, before = null, { push = true } = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v) p.set(k, v);
  if (before) p.set("before", before);
  const url = `${location.pathname}${p.toString() ? `?${p}` : ""}`;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  return load();
}

function query() {
  const p = params();
  const q = { limit: pageSize(), severity: p.get("severity"), line_id: p.get("line"), defect_class: p.get("class"), state: p.get("state") };
  const before = p.get("before");
  if (before) {
    const cut = before.lastIndexOf("|");
    q.before_raised_at = before.slice(0, cut);
    q.before_id = before.slice(cut + 1);
  }
  return q;
}

// Whether a pushed alert may belong to the list as filtered (its review state is the
// server's to say: the first page is asked for again).
function matches(alert) {
  const p = params();
  return (
    (!p.get("severity") || alert.severity === p.get("severity")) &&
    (!p.get("line") || alert.line_id === p.get("line")) &&
    (!p.get("class") || alert.defect_class === p.get("class"))
  );
}

function groupKey(entry, group) {
  if (group === "part") return entry.part_id ? `Part ${entry.part_id}` : "No part id";
  if (group === "line") return `Line ${entry.alert.line_id}`;
  if (group === "class") return entry.alert.defect_class ? `Class ${entry.alert.defect_class}` : "No defect class";
  return "";
}

async function onAcknowledge(entry, button) {
  button.disabled = true;
  $("#feed-error").hidden = true;
  try {
    const detail = await acknowledge("alert", entry.review);
    entry.review = detail.item;
    $("#alert-announce").textContent = `Alert acknowledged: ${entry.alert.message}`;
    render();
    $(`#alert-feed li[data-alert-id="${CSS.escape(entry.alert.alert_id)}"] a`)?.focus();
  } catch (error) {
    const node = $("#feed-error");
    node.textContent = explainStep(error, "Acknowledge");
    node.hidden = false;
    button.disabled = false;
  }
}

function item(entry) {
  const { alert, review } = entry;
  const link = `/record?alert=${encodeURIComponent(alert.alert_id)}`;
  const state = review?.state;
  const ackable = review && (state === "new" || state === "escalated") && can(who, "inspection_results.acknowledge");
  const button = ackable
    ? el("button", { type: "button", class: "secondary", "aria-label": `Acknowledge alert ${alert.message}` }, "Acknowledge")
    : null;
  button?.addEventListener("click", () => onAcknowledge(entry, button));
  return el(
    "li",
    { class: entry.fresh ? "new" : null, dataset: { severity: alert.severity, alertId: alert.alert_id, state: state || "unreviewed" } },
    el("div", {}, el("a", { href: link }, alert.message || alert.kind)),
    el("div", { class: "meta" }, el("time", { datetime: alert.raised_at }, fmtTime(alert.raised_at))),
    el(
      "div",
      { class: "meta" },
      `${alert.severity} · ${alert.kind.replace("_", " ")} · line ${alert.line_id}` +
        (alert.camera_id ? ` · camera ${alert.camera_id}` : "") +
        (alert.defect_class ? ` · ${alert.defect_class}` : "") +
        (entry.part_id ? ` · part ${entry.part_id}` : ""),
    ),
    el(
      "div",
      { class: "actions" },
      review ? badge(STATE_LABEL[state] || state, STATE_TONE[state]) : badge("not under review"),
      review?.escalated_to && state === "escalated" ? el("span", { class: "meta" }, `to ${review.escalated_to.replaceAll("_", " ")}`) : null,
      button,
    ),
  );
}

function render() {
  const feed = $("#alert-feed");
  // Keep the keyboard where it was when the list is drawn again.
  const active = document.activeElement;
  const focusedId = feed.contains(active) ? active.closest("li")?.dataset.alertId : null;
  const focusedTag = active?.tagName;
  const group = params().get("group") || "";
  if (!items.length) {
    const none = firstPage() && !FILTERS.slice(0, 4).some((f) => params().get(f));
    clear(
      feed,
      el("ol", { class: "feed" }, el("li", { id: "feed-empty", class: "empty" }, none ? "No alerts yet. New alerts appear here as they are raised." : "No alerts match these filters.")),
    );
  } else if (!group) {
    clear(feed, el("ol", { class: "feed" }, items.map(item)));
  } else {
    const groups = new Map();
    for (const entry of items) {
      const key = groupKey(entry, group);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(entry);
    }
    clear(
      feed,
      [...groups].map(([key, entries]) =>
        el(
          "section",
          { class: "feed-group", dataset: { group: key } },
          el("h3", {}, `${key} `, el("span", { class: "hint" }, `${entries.length} alert${entries.length === 1 ? "" : "s"}`)),
          el("ol", { class: "feed" }, entries.map(item)),
        ),
      ),
    );
  }
  $("#page-newest").hidden = firstPage();
  $("#page-older").hidden = !next;
  $("#page-info").textContent = items.length ? `${items.length} alert${items.length === 1 ? "" : "s"} shown${firstPage() ? " (newest)" : ""}` : "";
  if (focusedId) {
    const li = feed.querySelector(`li[data-alert-id="${CSS.escape(focusedId)}"]`);
    (li?.querySelector(focusedTag === "BUTTON" ? "button" : "a") || li?.querySelector("a"))?.focus();
  }
  const lines = new Set(items.map((e) => e.alert.line_id));
  clear($("#f-line-options"), [...lines].sort().map((l) => el("option", { value: l })));
}

function settled() {
  $("#alert-feed").removeAttribute("aria-busy");
}

async function load() {
  fillForm();
  $("#feed-error").hidden = true;
  $("#alert-feed").setAttribute("aria-busy", "true");
  const current = listTurn();
  try {
    const page = await api("/dashboard/alerts/page", { query: query() });
    if (!current()) return;
    items = page.items.map((entry) => ({ ...entry, fresh: false }));
    next = page.next;
    loadedAt = items.length ? items[0].alert.raised_at : null;
    status("");
  } catch (error) {
    if (!current()) return;
    items = [];
    next = null;
    status(explain(error, "Could not load alerts"));
  }
  render();
  settled();
}

// A pushed alert that belongs on the first page (the stream also replays the last
// minutes, and alerts arrive late from a node that was offline): the first page is asked
// for again, so order, filters (the review state too), part ids and review versions all
// come from the server, never from a guess. Alerts newer than what the page showed when
// it loaded are marked new and announced.
const heard = new Set();
let refreshTimer = null;

function arrive(alert) {
  if (!firstPage() || heard.has(alert.alert_id)) return;
  heard.add(alert.alert_id);
  if (items.some((e) => e.alert.alert_id === alert.alert_id) || !matches(alert)) return;
  const oldest = items.length ? Date.parse(items[items.length - 1].alert.raised_at) : -Infinity;
  if (items.length >= pageSize() && Date.parse(alert.raised_at) < oldest) return; // an older page's
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshFirstPage, 250);
}

async function refreshFirstPage() {
  if (!firstPage()) return;
  const shown = new Set(items.map((e) => e.alert.alert_id));
  const since = loadedAt ? Date.parse(loadedAt) : -Infinity;
  const current = listTurn();
  let page;
  try {
    page = await api("/dashboard/alerts/page", { query: query() });
  } catch (error) {
    if (current()) status(explain(error, "Could not refresh alerts"));
    return;
  }
  if (!current()) return;
  items = page.items.map((entry) => ({
    ...entry,
    fresh: !shown.has(entry.alert.alert_id) && Date.parse(entry.alert.raised_at) > since,
  }));
  next = page.next;
  render();
  settled();
  const newest = items.find((e) => e.fresh && !shown.has(e.alert.alert_id));
  if (newest) {
    const a = newest.alert;
    $("#alert-announce").textContent = `New ${a.severity} alert on line ${a.line_id}: ${a.message}`;
  }
}

function live(state, text) {
  const node = $("#live-state");
  node.dataset.state = state;
  node.textContent = text;
}

function connect() {
  const source = new EventSource(`${API}/dashboard/alerts/stream`);
  source.addEventListener("open", () => live("live", "Live"));
  source.addEventListener("alert", (event) => arrive(JSON.parse(event.data)));
  source.addEventListener("error", () => live("reconnecting", "Reconnecting…"));
  source.addEventListener("end", () => {
    // The server ended the stream (session over or stream lifetime reached).
    source.close();
    live("reconnecting", "Reconnecting…");
    setTimeout(async () => {
      try {
        await api("/auth/me");
        connect();
      } catch {
        /* the 401 handler has taken the person to the sign-in page */
      }
    }, 1000);
  });
  return source;
}

who = await startPage("inspection_results.read");
if (who) {
  $("#alert-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    go(readForm());
  });
  for (const id of ["#f-severity", "#f-state", "#f-group", "#f-size"]) {
    $(id).addEventListener("change", () => go(readForm()));
  }
  $("#page-older").addEventListener("click", () => {
    const last = items[items.length - 1];
    const cursor = next ? `${next.before_raised_at}|${next.before_id}` : `${last.alert.raised_at}|${last.alert.alert_id}`;
    go(readForm(), cursor);
  });
  $("#page-newest").addEventListener("click", () => go(readForm()));
  window.addEventListener("popstate", () => load());
  await load();
  connect();
}
