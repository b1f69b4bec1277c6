// The portal's shell: a hash router (#/catalog, #/docs/<name>, #/keys, #/usage) over
// pages that each render into <main>. Whether someone is signed in is asked of the
// API itself (the session cookie is HttpOnly): a 401 anywhere shows the sign-in form.

import { h, mount, notice } from "./dom.js";
import { get, post, onSignedOut, setCsrfToken } from "./api.js";
import { loginPage } from "./pages/login.js";
import { catalogPage } from "./pages/catalog.js";
import { docsPage } from "./pages/docs.js";
import { keysPage } from "./pages/keys.js";
import { usagePage } from "./pages/usage.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");

/** What the pages share: the catalogue (fetched once per sign-in) and the user. */
const session = {
  user: null,
  catalog: null,
  async loadCatalog(force = false) {
    if (!this.catalog || force) this.catalog = await get("/catalog");
    return this.catalog;
  },
};

const PAGES = {
  catalog: catalogPage,
  docs: docsPage,
  keys: keysPage,
  usage: usagePage,
};

function route() {
  const [page, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
  return { page: PAGES[page] ? page : "catalog", arg };
}

/** A page's render in flight; a newer navigation makes an older one's result moot. */
let generation = 0;

async function render() {
  const mine = ++generation;
  if (!session.user) {
    showSignedOut();
    return;
  }
  const { page, arg } = route();
  for (const a of nav.querySelectorAll("a")) {
    a.classList.toggle("active", a.dataset.page === page || (page === "docs" && a.dataset.page === "catalog"));
  }
  const view = h("div", { class: "page" }, h("p", { class: "muted" }, "Loading…"));
  mount(main, view);
  try {
    await PAGES[page](view, { session, arg, isCurrent: () => mine === generation });
  } catch (e) {
    if (mine !== generation || e.status === 401) return;
    mount(view, notice("error", e.message));
  }
}

function showSignedIn(user) {
  session.user = user;
  setCsrfToken(user.csrf_token);
  nav.hidden = false;
  who.hidden = false;
  mount(who,
    h("span", { class: "user" }, user.username),
    user.consumer ? h("span", { class: "muted" }, ` · ${user.consumer}`) : null,
    h("button", { type: "button", class: "link", id: "logout", onclick: logout }, "Sign out"));
}

function showSignedOut(message) {
  session.user = null;
  session.catalog = null;
  setCsrfToken(null);
  localStorage.removeItem("portal.user");
  nav.hidden = true;
  who.hidden = true;
  loginPage(main, {
    message,
    onSignedIn(user) {
      localStorage.setItem("portal.user", JSON.stringify(user));
      showSignedIn(user);
      if (!location.hash || location.hash === "#/") location.hash = "#/catalog";
      else render();
    },
  });
}

async function logout() {
  try {
    await post("/logout");
  } catch {
    // Already gone: signing out is what was wanted.
  }
  showSignedOut("Signed out.");
}

onSignedOut(() => showSignedOut("Your session has ended; sign in again."));
window.addEventListener("hashchange", render);

/**
 * At load: the names kept at the last sign-in say a session may be live (the cookie
 * itself is HttpOnly); then the page is shown, and a 401 brings the form back. With
 * nothing kept, the form is shown without asking the API (and without a 401 in the
 * browser's console).
 */
async function start() {
  let user = null;
  try {
    user = JSON.parse(localStorage.getItem("portal.user") || "null");
  } catch {
    user = null;
  }
  if (!user || typeof user.username !== "string") {
    showSignedOut();
    return;
  }
  showSignedIn(user);
  render();
}

start();
