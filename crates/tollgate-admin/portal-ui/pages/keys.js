// The developer's own keys: make one (its secret is shown this once, with a curl that
// uses it), list them (never a secret: the prefix identifies one), revoke one.

import { h, mount, notice, copyButton } from "../dom.js";
import { get, post, del } from "../api.js";
import { when } from "../format.js";

function keyState(k) {
  if (k.revoked_at) return h("span", { class: "badge revoked" }, "revoked");
  if (k.expires_at && new Date(k.expires_at) < new Date()) return h("span", { class: "badge revoked" }, "expired");
  return h("span", { class: "badge approved" }, "active");
}

function keysTable(keys, onRevoke) {
  if (!keys.length) return h("p", { class: "muted" }, "No keys yet.");
  return h("table", { id: "keys" },
    h("thead", null, h("tr", null, ["name", "prefix", "models", "created", "expires", "state", ""].map((t) => h("th", null, t)))),
    h("tbody", null, keys.map((k) => h("tr", { dataset: { id: k.id } },
      h("td", null, k.name || h("span", { class: "muted" }, "—")),
      h("td", null, h("code", null, `${k.prefix}…`)),
      h("td", null, k.models ? k.models.join(", ") : h("span", { class: "muted" }, "all")),
      h("td", null, when(k.created_at)),
      h("td", null, k.expires_at ? when(k.expires_at) : h("span", { class: "muted" }, "never")),
      h("td", null, keyState(k)),
      h("td", null, k.revoked_at ? null : h("button", {
        type: "button",
        class: "danger small revoke",
        onclick: () => onRevoke(k),
      }, "Revoke"))))));
}

/** The one time a key's secret is shown. */
function createdKey(created, gateway, model) {
  const curl = gateway
    ? `curl ${gateway}/v1/chat/completions \\\n  -H 'Authorization: Bearer ${created.key}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{"model": "${model || "MODEL"}", "messages": [{"role": "user", "content": "Hello"}]}'`
    : null;
  return h("div", { class: "card created", id: "created-key" },
    h("h3", null, "Your new key"),
    h("p", null, "Copy it now: it is shown this once and cannot be read again."),
    h("div", { class: "secret" }, h("code", { id: "new-key" }, created.key), copyButton(created.key)),
    curl ? [h("p", { class: "muted small" }, "Try it:"), h("pre", null, curl), copyButton(curl, "Copy curl")] : null);
}

export async function keysPage(view, { session, isCurrent }) {
  const [keys, catalog] = await Promise.all([get("/keys"), session.loadCatalog()]);
  if (!isCurrent()) return;
  const status = h("div", { class: "status" });
  const fresh = h("div");
  const list = h("div");

  const refresh = async () => mount(list, keysTable(await get("/keys"), revoke));
  async function revoke(k) {
    if (!confirm(`Revoke the key ${k.name || k.prefix}? Calls with it fail from the next request.`)) return;
    try {
      await del(`/keys/${encodeURIComponent(k.id)}`);
      mount(status, notice("ok", `Revoked ${k.name || k.prefix}.`));
      await refresh();
    } catch (e) {
      mount(status, notice("error", e.message));
    }
  }

  const name = h("input", { id: "key-name", name: "name", maxlength: 200, placeholder: "e.g. ci, laptop" });
  const expires = h("input", { id: "key-expires", name: "expires_at", type: "date" });
  const models = h("select", { id: "key-models", name: "models", multiple: true, size: Math.min(5, Math.max(2, catalog.models.length)) },
    catalog.models.map((m) => h("option", { value: m.name }, m.name)));
  const fieldError = {};
  const errorSlot = (field) => (fieldError[field] = h("div", { class: "field-error", role: "alert" }));
  const submit = h("button", { type: "submit", id: "create-key" }, "Create key");
  const form = h("form", {
    class: "card",
    onsubmit: async (ev) => {
      ev.preventDefault();
      Object.values(fieldError).forEach((e) => mount(e));
      mount(status);
      const body = {};
      if (name.value.trim()) body.name = name.value.trim();
      if (expires.value) body.expires_at = new Date(`${expires.value}T23:59:59Z`).toISOString();
      const picked = [...models.selectedOptions].map((o) => o.value);
      if (picked.length) body.models = picked;
      submit.disabled = true;
      try {
        const created = await post("/keys", body);
        mount(fresh, createdKey(created, catalog.gateway_url, (created.models || [])[0] || (catalog.models[0] || {}).name));
        form.reset();
        await refresh();
      } catch (e) {
        const slot = e.param && fieldError[e.param.split(/[.[]/)[0]];
        mount(slot || status, notice("error", e.message));
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("h2", null, "New key"),
  h("div", { class: "fields" },
    h("div", null, h("label", { for: "key-name" }, "Name"), name, errorSlot("name")),
    h("div", null, h("label", { for: "key-expires" }, "Expires (optional)"), expires, errorSlot("expires_at")),
    catalog.models.length
      ? h("div", null, h("label", { for: "key-models" }, "Only these models (optional)"), models, errorSlot("models"))
      : null),
  submit);

  mount(view, h("h1", null, "Keys"), fresh, status, list, form);
  mount(list, keysTable(keys, revoke));
}
