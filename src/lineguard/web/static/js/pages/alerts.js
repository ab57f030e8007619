// Live alert feed: the newest alerts from GET /dashboard/alerts, then new ones pushed by
// the server over Server-Sent Events (GET /dashboard/alerts/stream) without a reload.
// EventSource reconnects by itself; the state line says whether the feed is live.

import { API, api } from "../api.js";
import { $, clear, el, explain, fmtTime, status } from "../dom.js";
import { startPage } from "../layout.js";

const seen = new Set();
const MAX_SHOWN = 300;

function item(alert, isNew) {
  const link = alert.alert_id ? `/record?alert=${encodeURIComponent(alert.alert_id)}` : null;
  return el(
    "li",
    { class: isNew ? "new" : null, dataset: { severity: alert.severity, alertId: alert.alert_id } },
    el("div", {}, link ? el("a", { href: link }, alert.message || alert.kind) : alert.message),
    el("div", { class: "meta" }, el("time", { datetime: alert.raised_at }, fmtTime(alert.raised_at))),
    el(
      "div",
      { class: "meta" },
      `${alert.severity} · ${alert.kind.replace("_", " ")} · line ${alert.line_id}` +
        (alert.camera_id ? ` · camera ${alert.camera_id}` : "") +
        (alert.defect_class ? ` · ${alert.defect_class}` : ""),
    ),
  );
}

function filtered(alert) {
  const severity = $("#f-severity").value;
  return !severity || alert.severity === severity;
}

function applyFilter() {
  for (const li of $("#alert-feed").children) {
    const severity = $("#f-severity").value;
    li.hidden = Boolean(severity) && li.dataset.severity !== severity;
  }
}

function add(alert, isNew) {
  if (seen.has(alert.alert_id)) return false;
  seen.add(alert.alert_id);
  const feed = $("#alert-feed");
  $("#feed-empty")?.remove();
  const node = item(alert, isNew);
  node.hidden = !filtered(alert);
  if (isNew) feed.prepend(node);
  else feed.append(node);
  while (feed.children.length > MAX_SHOWN) feed.lastElementChild.remove();
  return true;
}

function live(state, text) {
  const node = $("#live-state");
  node.dataset.state = state;
  node.textContent = text;
}

function connect() {
  const source = new EventSource(`${API}/dashboard/alerts/stream`);
  source.addEventListener("open", () => live("live", "Live"));
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    if (add(alert, true) && filtered(alert)) {
      $("#alert-announce").textContent = `New ${alert.severity} alert on line ${alert.line_id}: ${alert.message}`;
    }
  });
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

if (await startPage("inspection_results.read")) {
  $("#f-severity").addEventListener("change", applyFilter);
  try {
    const alerts = await api("/dashboard/alerts", { query: { limit: 100 } });
    if (!alerts.length) clear($("#alert-feed"), el("li", { id: "feed-empty", class: "empty" }, "No alerts yet. New alerts appear here as they are raised."));
    for (const alert of alerts) add(alert, false);
  } catch (error) {
    status(explain(error, "Could not load alerts"));
  }
  connect();
}
