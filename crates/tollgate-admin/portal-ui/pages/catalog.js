// The catalogue: the services and prompt-APIs the developer may call (with their
// subscription state and a Subscribe button where one is needed), and the models
// their consumer may use.

import { h, mount, notice, table } from "../dom.js";
import { get, post } from "../api.js";
import { when } from "../format.js";

/** The newest subscription of each service (the list comes newest first). */
export async function subscriptionsByService() {
  const list = await get("/subscriptions?limit=1000");
  const by = new Map();
  for (const s of list.data) if (!by.has(s.service)) by.set(s.service, s);
  return by;
}

/** The subscription cell: not needed, the state, or a Subscribe button. */
export function subscriptionControl(item, subs) {
  const holder = h("div", { class: "subscription", dataset: { service: item.name } });
  const draw = () => {
    const s = subs.get(item.name);
    if (!item.subscription) {
      mount(holder, h("span", { class: "badge" }, "no subscription needed"));
    } else if (s && (s.status === "approved" || s.status === "pending")) {
      mount(holder, h("span", { class: `badge ${s.status}` }, s.status === "approved" ? "subscribed" : "pending approval"));
    } else {
      const button = h("button", {
        type: "button",
        class: "subscribe",
        onclick: async () => {
          button.disabled = true;
          try {
            subs.set(item.name, await post("/subscriptions", { service: item.name }));
            draw();
          } catch (e) {
            button.disabled = false;
            holder.appendChild(notice("error", e.message));
          }
        },
      }, item.subscription === "manual" ? "Request access" : "Subscribe");
      mount(holder,
        s ? h("span", { class: `badge ${s.status}` }, s.status) : null,
        button,
        h("span", { class: "muted small" }, item.subscription === "manual" ? " approved by an administrator" : " approved at once"));
    }
  };
  draw();
  return holder;
}

export function lifecycle(item) {
  return [
    h("span", { class: `badge ${item.lifecycle}` }, item.lifecycle),
    item.sunset_at ? h("span", { class: "muted small" }, ` until ${when(item.sunset_at)}`) : null,
  ];
}

function serviceCard(s, subs) {
  const ops = Object.values((s.openapi && s.openapi.paths) || {})
    .reduce((n, p) => n + Object.keys(p || {}).filter((m) => m !== "parameters").length, 0);
  return h("article", { class: "card service", dataset: { name: s.name } },
    h("header", null,
      h("h3", null, h("a", { href: `#/docs/${encodeURIComponent(s.name)}` }, s.name)),
      lifecycle(s)),
    s.description ? h("p", null, s.description) : null,
    h("p", { class: "muted small" }, h("code", null, s.path_prefix), ` · ${ops} operation${ops === 1 ? "" : "s"}`),
    h("div", { class: "row" },
      subscriptionControl(s, subs),
      h("a", { class: "button secondary", href: `#/docs/${encodeURIComponent(s.name)}` }, "API reference")));
}

function promptCard(p, subs) {
  const vars = p.variables.map((v) => [
    h("code", null, v.name),
    v.required ? "required" : "optional",
    v.default === undefined || v.default === null ? "" : String(v.default),
  ]);
  return h("article", { class: "card service prompt-api", dataset: { name: p.name } },
    h("header", null, h("h3", null, p.name), lifecycle(p)),
    p.description ? h("p", null, p.description) : null,
    h("p", { class: "muted small" }, h("code", null, `POST ${p.path}`), ` · model ${p.model}`),
    vars.length ? table(["variable", "", "default"], vars, { class: "compact" }) : null,
    h("p", { class: "muted small" }, "Body: ", h("code", null, '{"variables": {…}}')),
    subscriptionControl(p, subs));
}

export async function catalogPage(view, { session, isCurrent }) {
  const [catalog, subs] = await Promise.all([session.loadCatalog(true), subscriptionsByService()]);
  if (!isCurrent()) return;
  mount(view,
    h("h1", null, "Catalogue"),
    catalog.gateway_url
      ? h("p", { class: "muted" }, "Call everything here on the gateway at ", h("code", { id: "gateway-url" }, catalog.gateway_url), " with one of your keys.")
      : null,
    h("section", { id: "services" },
      h("h2", null, "Services"),
      catalog.services.length
        ? h("div", { class: "cards" }, catalog.services.map((s) => serviceCard(s, subs)))
        : h("p", { class: "muted" }, "No services are published yet.")),
    catalog.prompt_apis.length
      ? h("section", { id: "prompt-apis" },
        h("h2", null, "Prompt APIs"),
        h("div", { class: "cards" }, catalog.prompt_apis.map((p) => promptCard(p, subs))))
      : null,
    h("section", { id: "models" },
      h("h2", null, "Models"),
      catalog.models.length
        ? h("ul", { class: "models" }, catalog.models.map((m) => h("li", null, h("code", null, m.name))))
        : h("p", { class: "muted" }, "Your consumer may use no model."),
      catalog.models.length && catalog.gateway_url
        ? h("p", { class: "muted small" }, "OpenAI-compatible: ", h("code", null, `POST ${catalog.gateway_url}/v1/chat/completions`))
        : null));
}
