// Sign-in: password, then the authenticator code; a one-time password must be changed
// and a role that requires MFA must enroll an authenticator before the session becomes
// active. The server's session state decides which form shows; this page only follows it.

import { api, ApiError, safeNext, setCsrf } from "../api.js";
import { $ } from "../dom.js";

const FORMS = {
  password: "#password-form",
  mfa_pending: "#code-form",
  password_change: "#change-form",
  mfa_enroll: "#enroll-form",
};

function showError(message) {
  const box = $("#signin-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function next() {
  return safeNext(new URLSearchParams(location.search).get("next"));
}

async function show(state) {
  if (state === "active") {
    location.assign(next());
    return;
  }
  for (const [key, selector] of Object.entries(FORMS)) $(selector).hidden = key !== state;
  if (state === "mfa_enroll") {
    const enrollment = await api("/auth/mfa/enroll", { method: "POST", redirectOn401: false });
    $("#enroll-secret").textContent = enrollment.secret;
    $("#enroll-uri").textContent = enrollment.otpauth_uri;
  }
  const form = $(FORMS[state] || FORMS.password);
  // Focus the step's first field only if the person is not already in this form: the
  // start-up's answer to /auth/me can arrive after they began typing, and moving the focus
  // then sent the rest of their password into the user-name field (a CI run caught it).
  if (!form.contains(document.activeElement)) form.querySelector("input")?.focus();
}

function submitting(form, handler) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    showError("");
    try {
      const session = await handler();
      setCsrf(session.csrf_token);
      form.reset();
      await show(session.state);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && form.id !== "password-form") {
        // The sign-in step expired (or the session ended): start again.
        await show("password");
      }
      showError(error instanceof ApiError ? error.message : String(error));
    } finally {
      button.disabled = false;
    }
  });
}

submitting($("#password-form"), () =>
  api("/auth/login", {
    method: "POST",
    body: { username: $("#username").value.trim(), password: $("#password").value },
    redirectOn401: false,
    csrf: false,
  }),
);

submitting($("#code-form"), () =>
  api("/auth/login/mfa", { method: "POST", body: { code: $("#code").value.trim() }, redirectOn401: false }),
);

submitting($("#change-form"), async () => {
  if ($("#new-password").value !== $("#repeat-password").value) {
    throw new Error("the two new passwords differ");
  }
  return api("/auth/password", {
    method: "POST",
    body: { current_password: $("#current-password").value, new_password: $("#new-password").value },
    redirectOn401: false,
  });
});

submitting($("#enroll-form"), () =>
  api("/auth/mfa/confirm", { method: "POST", body: { code: $("#enroll-code").value.trim() }, redirectOn401: false }),
);

// Resume where the session stands (a reload between steps keeps the step).
try {
  const who = await api("/auth/me", { redirectOn401: false });
  await show(who.state);
} catch {
  await show("password");
}

// Only now do the forms take a submit (they arrive disabled). Earlier, a submit raced this
// start-up: the late answer to /auth/me hid the step the submit had just shown (a slow
// server left the person on a hidden code form), and before the handlers existed the
// browser would have submitted the form itself.
for (const button of document.querySelectorAll(".signin-card button[type=submit]")) button.disabled = false;
