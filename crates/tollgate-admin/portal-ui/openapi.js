// A small OpenAPI 3.x renderer: a document becomes readable operation lists (method,
// path, summary, parameters, request body, responses) with schemas drawn as nested
// property lists. Everything from the document goes into text nodes (see dom.js).
//
// Documents may be large, recursive or malformed: `$ref`s are followed only inside
// the document (JSON pointers), a schema already being drawn is not drawn again, and
// nesting stops at MAX_DEPTH, so no document can hang or blow up the page.

import { h, copyButton } from "./dom.js";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const MAX_DEPTH = 8;
const MAX_PROPERTIES = 200;

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const str = (v) => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));

/** Follows a local `$ref` (`#/components/schemas/Pet`); null when it leads nowhere. */
export function resolveRef(doc, ref) {
  if (typeof ref !== "string" || !ref.startsWith("#")) return null;
  let node = doc;
  for (const raw of ref.slice(1).split("/").filter((s) => s !== "")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObj(node) && !Array.isArray(node)) return null;
    if (!Object.prototype.hasOwnProperty.call(node, key)) return null;
    node = node[key];
  }
  return node;
}

/** A node with its `$ref` followed (chains of refs too, up to a few hops). */
function deref(doc, node) {
  let seen = 0;
  let name = null;
  while (isObj(node) && typeof node.$ref === "string" && seen < 16) {
    name = node.$ref.split("/").pop();
    node = resolveRef(doc, node.$ref);
    seen += 1;
  }
  return { node: isObj(node) ? node : null, name };
}

/**
 * An import cuts a schema where it refers back to itself, leaving
 * `{"$comment": "recursive reference to #/components/schemas/Node, not expanded"}`:
 * the schema's name, or null for any other node.
 */
function recursionCut(node) {
  const c = node.$comment;
  if (typeof c !== "string" || node.type || node.properties) return null;
  const m = /^recursive reference to (\S+?),? /.exec(c);
  return m ? m[1].split("/").pop() : null;
}

/** A one-line type: `string (date-time)`, `array of Pet`, `one of A | B`, … */
export function typeLabel(doc, schema, depth = 0) {
  if (depth > 3) return "…";
  const { node, name } = deref(doc, schema);
  if (!node) return name || "any";
  const cut = recursionCut(node);
  if (cut) return `${cut} (recursive)`;
  if (name && (node.type === "object" || node.properties)) return name;
  for (const k of ["oneOf", "anyOf"]) {
    if (Array.isArray(node[k])) return `${k === "oneOf" ? "one of" : "any of"} ${node[k].map((s) => typeLabel(doc, s, depth + 1)).join(" | ")}`;
  }
  if (Array.isArray(node.allOf)) return node.allOf.map((s) => typeLabel(doc, s, depth + 1)).join(" & ");
  let type = Array.isArray(node.type) ? node.type.join(" | ") : str(node.type) || (node.properties ? "object" : "any");
  if (type === "array") type = `array of ${typeLabel(doc, node.items, depth + 1)}`;
  if (node.format) type += ` (${str(node.format)})`;
  return type;
}

/** Constraints worth a reader's eye: enum values, bounds, pattern, default. */
function constraints(node) {
  const out = [];
  if (Array.isArray(node.enum)) out.push(`one of: ${node.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  if (node.const !== undefined) out.push(`always ${JSON.stringify(node.const)}`);
  for (const [k, label] of [["minimum", "≥"], ["maximum", "≤"], ["minLength", "min length"], ["maxLength", "max length"], ["minItems", "min items"], ["maxItems", "max items"]]) {
    if (node[k] !== undefined) out.push(`${label} ${str(node[k])}`);
  }
  if (node.pattern) out.push(`pattern ${str(node.pattern)}`);
  if (node.default !== undefined) out.push(`default ${JSON.stringify(node.default)}`);
  if (node.nullable === true) out.push("nullable");
  return out.join(" · ");
}

/** The properties of an object schema (allOf parts merged), with `required`. */
function objectShape(doc, node, seen) {
  const props = {};
  const required = new Set(Array.isArray(node.required) ? node.required : []);
  const parts = [node, ...(Array.isArray(node.allOf) ? node.allOf : [])];
  for (const part of parts) {
    const { node: p, name } = deref(doc, part);
    if (!p || (name && seen.has(name))) continue;
    if (isObj(p.properties)) Object.assign(props, p.properties);
    if (Array.isArray(p.required)) p.required.forEach((r) => required.add(r));
  }
  return { props, required };
}

/** A schema as a nested list of its properties (objects), items (arrays) or variants. */
export function schemaView(doc, schema, depth = 0, seen = new Set()) {
  const { node, name } = deref(doc, schema);
  if (!node) return h("span", { class: "muted" }, name ? `${name} (not found in the document)` : "any");
  if (name && seen.has(name)) return h("span", { class: "muted" }, `${name} (recursive, shown above)`);
  if (depth >= MAX_DEPTH) return h("span", { class: "muted" }, "… (nested too deep to show)");
  const inner = new Set(seen);
  if (name) inner.add(name);

  const variants = Array.isArray(node.oneOf) ? node.oneOf : Array.isArray(node.anyOf) ? node.anyOf : null;
  if (variants) {
    return h("ol", { class: "schema variants" },
      variants.slice(0, MAX_PROPERTIES).map((v) => h("li", null,
        h("span", { class: "type" }, typeLabel(doc, v)), schemaChildren(doc, v, depth + 1, inner))));
  }
  const { props, required } = objectShape(doc, node, inner);
  const keys = Object.keys(props);
  if (keys.length) {
    return h("ul", { class: "schema" },
      keys.slice(0, MAX_PROPERTIES).map((k) => propertyItem(doc, k, props[k], required.has(k), depth, inner)),
      keys.length > MAX_PROPERTIES ? h("li", { class: "muted" }, `… ${keys.length - MAX_PROPERTIES} more`) : null);
  }
  if (node.type === "array" || node.items) {
    return h("div", { class: "schema-array" },
      h("span", { class: "muted" }, "items: "), h("span", { class: "type" }, typeLabel(doc, node.items)),
      schemaChildren(doc, node.items, depth + 1, inner));
  }
  const c = constraints(node);
  return h("span", null, h("span", { class: "type" }, typeLabel(doc, schema)), c ? h("span", { class: "muted" }, ` · ${c}`) : null);
}

/** The nested view of a schema, only when it has structure worth showing. */
function schemaChildren(doc, schema, depth, seen) {
  const { node, name } = deref(doc, schema);
  if (!node) return null;
  if (name && seen.has(name)) return h("span", { class: "muted" }, " (recursive)");
  const structured = isObj(node.properties) || Array.isArray(node.allOf) || Array.isArray(node.oneOf) || Array.isArray(node.anyOf)
    || (node.type === "array" && isObj(deref(doc, node.items).node) && hasStructure(doc, node.items));
  return structured ? schemaView(doc, schema, depth, seen) : null;
}

function hasStructure(doc, schema) {
  const { node } = deref(doc, schema);
  return !!node && (isObj(node.properties) || Array.isArray(node.allOf) || Array.isArray(node.oneOf) || Array.isArray(node.anyOf) || node.type === "array");
}

function propertyItem(doc, key, schema, required, depth, seen) {
  const { node } = deref(doc, schema);
  const c = node ? constraints(node) : "";
  return h("li", null,
    h("code", { class: "prop" }, key),
    " ", h("span", { class: "type" }, typeLabel(doc, schema)),
    required ? h("span", { class: "required" }, " required") : null,
    node && node.readOnly ? h("span", { class: "muted" }, " read-only") : null,
    node && node.deprecated ? h("span", { class: "badge deprecated" }, "deprecated") : null,
    node && node.description ? h("div", { class: "desc" }, str(node.description)) : null,
    c ? h("div", { class: "muted small" }, c) : null,
    schemaChildren(doc, schema, depth + 1, seen));
}

function parametersView(doc, params) {
  if (!params.length) return null;
  return h("section", { class: "params" },
    h("h5", null, "Parameters"),
    h("table", { class: "compact" },
      h("thead", null, h("tr", null, ["name", "in", "type", "description"].map((t) => h("th", null, t)))),
      h("tbody", null, params.map((p) => {
        const schema = p.schema || (isObj(p.content) ? Object.values(p.content)[0]?.schema : undefined);
        const { node } = deref(doc, schema);
        const c = node ? constraints(node) : "";
        return h("tr", null,
          h("td", null, h("code", null, str(p.name)), p.required ? h("span", { class: "required" }, " required") : null),
          h("td", null, str(p.in)),
          h("td", null, typeLabel(doc, schema)),
          h("td", null, str(p.description), c ? h("div", { class: "muted small" }, c) : null));
      }))));
}

function contentView(doc, content) {
  if (!isObj(content)) return null;
  return Object.entries(content).map(([mime, media]) => h("div", { class: "media" },
    h("span", { class: "mime" }, mime),
    isObj(media) && media.schema ? schemaView(doc, media.schema) : null,
    isObj(media) && media.example !== undefined ? h("pre", { class: "example" }, JSON.stringify(media.example, null, 2)) : null));
}

function bodyView(doc, body) {
  const { node } = deref(doc, body);
  if (!node) return null;
  return h("section", { class: "body" },
    h("h5", null, "Request body", node.required ? h("span", { class: "required" }, " required") : null),
    node.description ? h("p", null, str(node.description)) : null,
    contentView(doc, node.content));
}

function responsesView(doc, responses) {
  if (!isObj(responses)) return null;
  return h("section", { class: "responses" },
    h("h5", null, "Responses"),
    h("dl", null, Object.entries(responses).map(([code, r]) => {
      const { node } = deref(doc, r);
      return [
        h("dt", null, h("span", { class: `status s${code[0]}` }, code)),
        h("dd", null, node ? str(node.description) : "", node ? contentView(doc, node.content) : null),
      ];
    })));
}

/** The example call: curl against the document's first server. */
function curlOf(server, method, path, op) {
  const lines = [`curl -X ${method.toUpperCase()} '${server}${path}'`, `  -H 'Authorization: Bearer $TOLLGATE_KEY'`];
  if (op.requestBody) lines.push(`  -H 'Content-Type: application/json' -d '{…}'`);
  return lines.join(" \\\n");
}

function operationView(doc, server, path, method, op, pathParams) {
  const params = [...pathParams, ...(Array.isArray(op.parameters) ? op.parameters : [])]
    .map((p) => deref(doc, p).node).filter(Boolean);
  const curl = curlOf(server, method, path, op);
  return h("details", { class: `operation ${method}`, dataset: { method, path } },
    h("summary", null,
      h("span", { class: `method ${method}` }, method.toUpperCase()),
      h("code", { class: "path" }, path),
      h("span", { class: "summary" }, str(op.summary)),
      op.deprecated ? h("span", { class: "badge deprecated" }, "deprecated") : null),
    h("div", { class: "operation-body" },
      op.description ? h("p", { class: "desc" }, str(op.description)) : null,
      op.operationId ? h("p", { class: "muted small" }, "operation ", h("code", null, str(op.operationId))) : null,
      parametersView(doc, params),
      bodyView(doc, op.requestBody),
      responsesView(doc, op.responses),
      h("div", { class: "curl" }, h("pre", null, curl), copyButton(curl))));
}

/** The operations of a document grouped by their first tag (untagged ones last). */
export function operations(doc) {
  const groups = new Map();
  const paths = isObj(doc && doc.paths) ? doc.paths : {};
  for (const [path, rawItem] of Object.entries(paths)) {
    const item = deref(doc, rawItem).node;
    if (!item) continue;
    const shared = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of METHODS) {
      const op = item[method];
      if (!isObj(op)) continue;
      const tag = Array.isArray(op.tags) && op.tags.length ? str(op.tags[0]) : "";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push({ path, method, op, shared });
    }
  }
  return [...groups.entries()].sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
}

/** The whole document: title, description, server, then the operations by tag. */
export function renderDocument(doc) {
  if (!isObj(doc)) return h("p", { class: "notice error" }, "This service has no API document.");
  const info = isObj(doc.info) ? doc.info : {};
  const server = Array.isArray(doc.servers) && isObj(doc.servers[0]) ? str(doc.servers[0].url) : "";
  const groups = operations(doc);
  const tagInfo = new Map((Array.isArray(doc.tags) ? doc.tags : []).filter(isObj).map((t) => [str(t.name), str(t.description)]));
  return h("div", { class: "openapi" },
    h("p", { class: "muted small" }, `OpenAPI ${str(doc.openapi)}`, info.version ? ` · version ${str(info.version)}` : ""),
    info.description ? h("p", { class: "desc" }, str(info.description)) : null,
    server ? h("p", null, "Base URL: ", h("code", { class: "server" }, server)) : null,
    groups.length === 0 ? h("p", { class: "muted" }, "This service documents no operations.") : null,
    groups.map(([tag, ops]) => h("section", { class: "tag" },
      h("h3", null, tag || "Other operations"),
      tagInfo.get(tag) ? h("p", { class: "muted" }, tagInfo.get(tag)) : null,
      ops.map(({ path, method, op, shared }) => operationView(doc, server, path, method, op, shared)))));
}
