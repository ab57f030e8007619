// Governance: the deployment self-check (the same report as `lineguard doctor`) and the
// governance documents as the live configuration gives them now. Data:
// /governance/doctor and /governance/documents (governance.read).

import { api } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtTime, table } from "../dom.js";
import { startPage } from "../layout.js";

const TONES = { pass: "good", warn: "warn", fail: "bad" };

async function loadDoctor() {
  try {
    const report = await api("/governance/doctor");
    const c = report.counts;
    clear(
      $("#doctor-summary"),
      `${c.pass} passed, ${c.warn} warnings, ${c.fail} failed — LineGuard ${report.software_version}, checked ${fmtTime(report.checked_at)}`,
    );
    clear(
      $("#doctor"),
      ...report.groups.map((group) => [
        el("h3", {}, group.title),
        table(
          [
            { label: "Status", value: (r) => badge(r.status, TONES[r.status]) },
            { label: "Check", value: (r) => r.title },
            { label: "Evidence", value: (r) => r.evidence },
            { label: "Fix", value: (r) => (r.status === "pass" ? "" : r.fix || "") },
          ],
          group.checks,
          { caption: group.title },
        ),
      ]).flat(),
    );
  } catch (error) {
    clear($("#doctor"), empty(explain(error, "Self-check")));
  }
}

async function loadDocuments() {
  try {
    const docs = await api("/governance/documents");
    const link = (d, format) =>
      el("a", { href: `/api/v1/governance/documents/${encodeURIComponent(d.name)}?format=${format}` }, format.toUpperCase());
    clear(
      $("#documents"),
      docs.length
        ? table(
            [
              { label: "Document", value: (d) => d.title },
              { label: "Legal anchor", value: (d) => d.anchor },
              { label: "Language", value: (d) => d.lang },
              { label: "Open", value: (d) => el("span", {}, link(d, "html"), " ", link(d, "pdf")) },
            ],
            docs,
            { caption: "Documents" },
          )
        : empty("No document."),
    );
  } catch (error) {
    clear($("#documents"), empty(explain(error, "Documents")));
  }
}

if (await startPage("governance.read")) {
  await Promise.all([loadDoctor(), loadDocuments()]);
}
