// Sign-in: a developer user's username and password (POST /portal/v1/login). The
// session comes back as an HttpOnly cookie; the page keeps the names to show and the
// session's CSRF token (useless without the cookie, and new at every sign-in).

import { h, mount, notice } from "../dom.js";
import { post } from "../api.js";

export function loginPage(main, { message, onSignedIn }) {
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const status = h("div", { class: "status" }, message ? notice("ok", message) : null);
  const submit = h("button", { type: "submit", id: "sign-in" }, "Sign in");
  const form = h("form", {
    class: "card narrow",
    onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      mount(status);
      try {
        const answer = await post("/login", { username: username.value, password: password.value });
        onSignedIn({ username: answer.username, consumer: answer.consumer, csrf_token: answer.csrf_token });
      } catch (e) {
        mount(status, notice("error", e.status === 401 ? "Wrong username or password." : e.message));
        password.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("h1", null, "Sign in"),
  h("p", { class: "muted" }, "Developer accounts are made by your Tollgate administrators."),
  h("label", { for: "username" }, "Username"), username,
  h("label", { for: "password" }, "Password"), password,
  status,
  submit);
  mount(main, form);
  username.focus();
}
