// Node health: online state, software, outbox backlog and per-camera fps, latency and
// model of every edge node in the person's scope (GET /dashboard/nodes), refreshed
// every 15 s. People with node_management.write also get the revoke control.

import { api, can } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtBytes, fmtInt, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";

let who = null;

function summary(nodes) {
  const online = nodes.filter((n) => n.online).length;
  const backlog = nodes.reduce((sum, n) => sum + (n.outbox_backlog || 0), 0);
  const cameras = nodes.flatMap((n) => n.cameras);
  const streaming = cameras.filter((c) => c.state === "streaming").length;
  const card = (title, big, sub, tone) =>
    el("article", { class: "card", dataset: tone ? { tone } : {} }, el("h3", {}, title), el("div", { class: "big" }, big), el("div", { class: "sub" }, sub));
  return [
    card("Nodes online", `${online} / ${nodes.length}`, "heartbeat within 2 minutes", online === nodes.length ? "good" : "bad"),
    card("Cameras streaming", `${streaming} / ${cameras.length}`, "as of the last heartbeat", streaming === cameras.length ? "good" : "warn"),
    card("Outbox backlog", fmtInt(backlog), "results waiting on nodes to be sent", backlog > 1000 ? "warn" : "good"),
  ];
}

async function revoke(node) {
  const reason = prompt(`Revoke node ${node.node_id}? Give a reason (recorded in the audit log):`);
  if (!reason) return;
  try {
    await api(`/nodes/${encodeURIComponent(node.node_id)}/revoke`, { method: "POST", body: { reason } });
    await load();
  } catch (error) {
    status(explain(error, "Revocation failed"));
  }
}

function nodeTable(nodes) {
  const columns = [
    { label: "Node", value: (n) => n.node_id },
    { label: "Line", value: (n) => n.line_id },
    { label: "State", value: (n) => (n.status === "revoked" ? badge("revoked", "bad") : n.online ? badge("online", "good") : badge("offline", "bad")) },
    { label: "Last seen", value: (n) => fmtTime(n.last_seen_at) },
    { label: "Software", value: (n) => n.software_version },
    { label: "Outbox backlog", value: (n) => fmtInt(n.outbox_backlog), num: true },
    { label: "Disk used", value: (n) => fmtBytes(n.disk_used_bytes), num: true },
    {
      label: "Cameras (fps · p50/p99 latency · model)",
      value: (n) =>
        n.cameras.length
          ? el(
              "ul",
              { class: "plain" },
              n.cameras.map((c) =>
                el(
                  "li",
                  {},
                  badge(c.state, c.state === "streaming" ? "good" : "warn"),
                  ` ${c.camera_id}: ${c.fps.toFixed(1)} fps · ${c.latency_p50_ms.toFixed(0)}/${c.latency_p99_ms.toFixed(0)} ms · ` +
                    (c.model_id ? `${c.model_id} v${c.model_version}` : "no model"),
                ),
              ),
            )
          : "—",
    },
  ];
  if (can(who, "node_management.write")) {
    columns.push({
      label: "Actions",
      value: (n) =>
        n.status === "revoked"
          ? "—"
          : el("div", { class: "actions" }, el("button", { type: "button", class: "danger", onclick: () => revoke(n), "aria-label": `Revoke node ${n.node_id}` }, "Revoke")),
    });
  }
  return table(columns, nodes, { caption: "Edge nodes" });
}

async function load() {
  try {
    const nodes = await api("/dashboard/nodes");
    status("");
    // The table is drawn anew every 15 s: a keyboard on a node's button stays on that button.
    const focused = $("#nodes").contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    clear($("#node-summary"), nodes.length ? summary(nodes) : []);
    clear($("#nodes"), nodes.length ? nodeTable(nodes) : empty("No edge node is enrolled yet. Enroll one with `lineguard node token` and `lineguard edge enroll`."));
    if (focused) $(`#nodes [aria-label="${CSS.escape(focused)}"]`)?.focus();
    $("#nodes-updated").textContent = `Updated ${fmtTime(new Date().toISOString())}`;
  } catch (error) {
    status(explain(error, "Could not load node health"));
  }
}

who = await startPage("node_management.read");
if (who) {
  await load();
  setInterval(load, 15000);
}
