// The frame every page shares: navigation limited to what the signed-in person may
// open, their name and a sign-out button, and controls marked data-needs="<action>"
// revealed only when /auth/me lists that permission. Hiding is a courtesy: the API
// refuses the same actions anyway.

import { api, can, me, toSignIn } from "./api.js";
import { $, clear, el } from "./dom.js";

export const NAV = [
  { href: "/overview", label: "Overview", needs: "inspection_results.read" },
  { href: "/defects", label: "Defects", needs: "inspection_results.read" },
  { href: "/alerts", label: "Alerts", needs: "inspection_results.read" },
  { href: "/nodes", label: "Nodes", needs: "node_management.read" },
  { href: "/spc", label: "SPC", needs: "inspection_results.read" },
  { href: "/labels", label: "Labels", needs: "inspection_results.read" },
  { href: "/thermal", label: "Thermal", needs: "maintenance_data.read" },
  { href: "/ppe", label: "PPE", needs: "safety_compliance.read" },
  { href: "/models", label: "Models", needs: "model_configuration.read" },
  { href: "/audit", label: "Audit log", needs: "audit_log.read" },
  { href: "/users", label: "Users & roles", needs: "users_and_roles.read" },
  { href: "/retention", label: "Retention", needs: "retention_policy.read" },
  { href: "/integrations", label: "Integrations", needs: "integrations.read" },
  { href: "/governance", label: "Governance", needs: "governance.read" },
  // The assistant: shown to anyone who may read some plant data; the API decides per workflow.
  {
    href: "/ask",
    label: "Ask",
    needsAny: ["production_data.read", "quality_data.read", "maintenance_data.read", "customer_orders.read"],
  },
];

/** Pages `who` may open, in menu order. */
export function allowedPages(who) {
  return NAV.filter((item) => (item.needsAny ? item.needsAny.some((a) => can(who, a)) : can(who, item.needs)));
}

function renderNav(who) {
  const nav = $("#main-nav");
  if (!nav) return;
  const here = location.pathname;
  const items = allowedPages(who).map((item) =>
    el("li", {}, el("a", { href: item.href, "aria-current": item.href === here ? "page" : null }, item.label)),
  );
  clear(nav, el("ul", {}, items));
}

export function applyPermissions(who, root = document) {
  for (const node of root.querySelectorAll("[data-needs]")) {
    node.hidden = !can(who, node.dataset.needs);
  }
}

async function signOut() {
  try {
    await api("/auth/logout", { method: "POST", redirectOn401: false });
  } finally {
    location.assign("/signin");
  }
}

/**
 * Start a page: make sure someone is signed in with an active session, draw the frame,
 * and return who it is; null (with a message on the page) when `needs` is not theirs.
 */
export async function startPage(needs) {
  const who = await me();
  if (who.state !== "active") {
    toSignIn();
    return null;
  }
  renderNav(who);
  $("#who-name").textContent = who.display_name || who.username;
  const button = $("#sign-out");
  button.hidden = false;
  button.addEventListener("click", signOut);
  applyPermissions(who);
  if (needs && !can(who, needs)) {
    const main = $("#main");
    clear(
      main,
      el("h1", {}, "Not available to your roles"),
      el("p", {}, "This page shows data your roles do not include. Use the menu to open a page you may see."),
    );
    return null;
  }
  return who;
}
