// Users and roles (IT administrators): accounts with their grants, MFA and lock state;
// create an account (one-time password shown once), disable, reset MFA, grant and
// revoke roles. Data: /auth/users and friends (the access-control domain).

import { api, can } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const ROLES = [
  ["quality_engineer", "Quality engineer"],
  ["maintenance_technician", "Maintenance technician"],
  ["production_supervisor", "Production supervisor"],
  ["it_administrator", "IT administrator"],
  ["auditor", "Auditor"],
  ["external_partner", "External partner"],
  ["finance_controller", "Finance controller"],
];
const ROLE_TITLE = Object.fromEntries(ROLES);
let who = null;
let grantee = null;

async function act(promise, what) {
  try {
    await promise;
    await load();
  } catch (error) {
    status(explain(error, what));
  }
}

function grantList(user) {
  if (!user.grants.length) return "no roles";
  return el(
    "ul",
    { class: "plain" },
    user.grants.map((g) =>
      el(
        "li",
        {},
        `${ROLE_TITLE[g.role] || g.role} — ${g.lines ? `lines ${g.lines.join(", ")}` : "whole site"}${g.until ? `, until ${fmtTime(g.until)}` : ""} `,
        can(who, "users_and_roles.grant")
          ? el("button", { type: "button", class: "secondary", "aria-label": `Revoke ${g.role} from ${user.username}`, onclick: () => act(api(`/auth/grants/${g.id}`, { method: "DELETE" }), "Revoke failed") }, "Revoke")
          : null,
      ),
    ),
  );
}

function actions(user) {
  const buttons = [];
  if (can(who, "users_and_roles.grant") && !user.disabled) {
    buttons.push(el("button", { type: "button", "aria-label": `Grant a role to ${user.username}`, onclick: () => openGrant(user) }, "Grant role"));
  }
  if (can(who, "users_and_roles.write") && !user.disabled) {
    buttons.push(
      el("button", { type: "button", class: "secondary", "aria-label": `Reset MFA of ${user.username}`, onclick: () => act(api(`/auth/users/${user.id}/reset-mfa`, { method: "POST" }), "Reset failed") }, "Reset MFA"),
      el("button", { type: "button", class: "danger", "aria-label": `Disable ${user.username}`, onclick: () => confirm(`Disable ${user.username}? Their sessions and tokens end.`) && act(api(`/auth/users/${user.id}/disable`, { method: "POST" }), "Disable failed") }, "Disable"),
    );
  }
  return buttons.length ? el("div", { class: "actions" }, buttons) : "—";
}

function openGrant(user) {
  grantee = user;
  $("#grant-who").textContent = `For ${user.display_name} (${user.username})`;
  $("#grant-error").hidden = true;
  $("#grant-dialog").showModal();
}

async function load() {
  try {
    const users = await api("/auth/users");
    const columns = [
      { label: "User", value: (u) => el("span", {}, el("strong", {}, u.username), el("br"), u.display_name) },
      { label: "Roles", value: grantList },
      { label: "MFA", value: (u) => (u.mfa_enabled ? badge("enrolled", "good") : badge("not enrolled", "warn")) },
      { label: "State", value: (u) => (u.disabled ? badge("disabled", "bad") : u.locked_until ? badge("locked", "bad") : u.must_change_password ? badge("one-time password", "warn") : badge("active", "good")) },
    ];
    if (can(who, "users_and_roles.write") || can(who, "users_and_roles.grant")) columns.push({ label: "Actions", value: actions });
    clear($("#users"), users.length ? table(columns, users, { caption: "Accounts" }) : empty("No accounts."));
    status("");
  } catch (error) {
    status(explain(error, "Could not load accounts"));
  }
}

who = await startPage("users_and_roles.read");
if (who) {
  clear($("#g-role"), ROLES.map(([value, label]) => el("option", { value }, label)));
  $("#grant-cancel").addEventListener("click", () => $("#grant-dialog").close());
  $("#grant-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = $("#g-lines").value.split(",").map((s) => s.trim()).filter(Boolean);
    const until = $("#g-until").value ? new Date(`${$("#g-until").value}T23:59:59Z`).toISOString() : null;
    try {
      await api(`/auth/users/${grantee.id}/grants`, { method: "POST", body: { role: $("#g-role").value, lines: lines.length ? lines : null, until } });
      $("#grant-dialog").close();
      await load();
    } catch (error) {
      $("#grant-error").textContent = explain(error, "Not granted");
      $("#grant-error").hidden = false;
    }
  });
  $("#create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await api("/auth/users", { method: "POST", body: { username: $("#c-username").value.trim(), display_name: $("#c-display").value.trim() } });
      clear(
        $("#created"),
        el("p", { class: "notice" }, `Account ${created.user.username} created. One-time password (shown once; hand it over in person): `, el("code", {}, created.one_time_password)),
      );
      event.target.reset();
      await load();
    } catch (error) {
      clear($("#created"), el("p", { class: "form-error", role: "alert" }, explain(error, "Not created")));
    }
  });
  await load();
}
