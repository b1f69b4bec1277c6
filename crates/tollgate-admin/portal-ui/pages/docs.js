// One service's API reference: its OpenAPI document (as the catalogue serves it,
// `servers` being the gateway) rendered by openapi.js, with its subscription state
// and the document itself to download.

import { h, mount, notice } from "../dom.js";
import { renderDocument } from "../openapi.js";
import { subscriptionsByService, subscriptionControl, lifecycle } from "./catalog.js";

export async function docsPage(view, { session, arg, isCurrent }) {
  const [catalog, subs] = await Promise.all([session.loadCatalog(), subscriptionsByService()]);
  if (!isCurrent()) return;
  const service = catalog.services.find((s) => s.name === arg);
  if (!service) {
    mount(view, h("p", null, h("a", { href: "#/catalog" }, "← Catalogue")),
      notice("error", `No service named “${arg || ""}” in your catalogue.`));
    return;
  }
  const json = JSON.stringify(service.openapi, null, 2);
  const download = h("a", {
    class: "button secondary",
    download: `${service.name}.openapi.json`,
    href: URL.createObjectURL(new Blob([json], { type: "application/json" })),
  }, "Download OpenAPI");
  mount(view,
    h("p", null, h("a", { href: "#/catalog" }, "← Catalogue")),
    h("header", { class: "docs-head" },
      h("h1", null, service.name), lifecycle(service)),
    service.description ? h("p", null, service.description) : null,
    h("div", { class: "row" }, subscriptionControl(service, subs), download),
    h("div", { id: "reference" }, renderDocument(service.openapi)));
}
