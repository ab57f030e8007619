// Integrations: each CMMS destination's health, queue depth, dead letters and last
// error; the MQTT broker; the egress allowlist and what it refused. Data:
// /integrations, /integrations/deliveries and /egress (integrations.read); replaying
// dead letters appears only with integrations.write. No credential is ever sent here:
// the API has none to give.

import { api, can } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtInt, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const TONE = { ok: "good", idle: null, failing: "bad", disabled: "warn" };
let who = null;

function replayButton(name) {
  if (!can(who, "integrations.write")) return "—";
  const button = el("button", { type: "button" }, "Replay dead letters");
  button.addEventListener("click", async () => {
    try {
      const result = await api(`/integrations/cmms/${encodeURIComponent(name)}/replay`, { method: "POST", body: {} });
      status(`${fmtInt(result.replayed)} work order(s) of ${name} back in the queue.`);
      await load();
    } catch (error) {
      status(explain(error, "Not replayed"));
    }
  });
  return button;
}

async function load() {
  try {
    const overview = await api("/integrations");
    clear(
      $("#destinations"),
      overview.destinations.length
        ? table(
            [
              { label: "Name", value: (d) => d.name },
              { label: "Kind", value: (d) => d.kind },
              { label: "URL", value: (d) => d.target },
              { label: "Health", value: (d) => badge(d.health, TONE[d.health]) },
              { label: "Queued", value: (d) => fmtInt(d.queued), num: true },
              { label: "Dead letters", value: (d) => fmtInt(d.dead_letters), num: true },
              { label: "Delivered", value: (d) => fmtInt(d.delivered), num: true },
              { label: "Last delivery", value: (d) => (d.last_delivered_at ? fmtTime(d.last_delivered_at) : "—") },
              { label: "Last error", value: (d) => d.last_error || "—" },
              { label: "", value: (d) => (d.dead_letters ? replayButton(d.name) : "") },
            ],
            overview.destinations,
            { caption: "CMMS destinations" },
          )
        : empty("No CMMS destination is configured (integrations.cmms in server.yaml)."),
    );
    const mqtt = overview.mqtt;
    clear(
      $("#mqtt"),
      mqtt
        ? table(
            [
              { label: "Broker", value: (m) => m.broker },
              { label: "Connected", value: (m) => badge(m.connected ? "connected" : "disconnected", m.connected ? "good" : "bad") },
              { label: "Queued", value: (m) => fmtInt(m.queued), num: true },
              { label: "Published", value: (m) => fmtInt(m.published_since_start), num: true },
              { label: "Last publish", value: (m) => (m.last_published_at ? fmtTime(m.last_published_at) : "—") },
              { label: "Last error", value: (m) => m.last_error || "—" },
            ],
            [mqtt],
            { caption: "MQTT broker" },
          )
        : empty("No MQTT broker is configured."),
    );
  } catch (error) {
    clear($("#destinations"), empty(explain(error, "Destinations")));
  }
  try {
    const dead = await api("/integrations/deliveries", { query: { state: "dead", limit: 100 } });
    clear(
      $("#dead"),
      dead.length
        ? table(
            [
              { label: "Destination", value: (d) => d.destination },
              { label: "Work order", value: (d) => d.work_order_id },
              { label: "Attempts", value: (d) => fmtInt(d.attempts), num: true },
              { label: "Queued", value: (d) => fmtTime(d.created_at) },
              { label: "Error", value: (d) => d.last_error || "—" },
            ],
            dead,
            { caption: "Dead letters" },
          )
        : empty("No dead letter."),
    );
  } catch (error) {
    clear($("#dead"), empty(explain(error, "Dead letters")));
  }
  try {
    const egress = await api("/egress");
    const refused = egress.last_denial
      ? ` Last refused: ${egress.last_denial.destination} (${egress.last_denial.purpose}) at ${fmtTime(egress.last_denial.at)}: ${egress.last_denial.reason}.`
      : "";
    clear(
      $("#egress"),
      el("p", {}, `${fmtInt(egress.denied_since_start)} connection(s) refused since the server started.${refused}`),
      egress.rules.length
        ? table(
            [
              { label: "Destination", value: (r) => r.destination },
              { label: "Pinned CA", value: (r) => (r.pinned_ca ? "yes" : "system store") },
              { label: "Addresses", value: (r) => r.addresses.join(", ") || "any (not link-local)" },
              { label: "Purpose", value: (r) => r.purpose || "—" },
            ],
            egress.rules,
            { caption: "Egress allowlist" },
          )
        : empty("The allowlist is empty: the server connects nowhere."),
    );
  } catch (error) {
    clear($("#egress"), empty(explain(error, "Egress allowlist")));
  }
}

who = await startPage("integrations.read");
if (who) await load();
