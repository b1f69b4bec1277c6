// OpenAPI import (POST /admin/v1/services/import): an OpenAPI 3.0 / 3.1 document,
// JSON or YAML, becomes a service with a route per operation. The service's name,
// prefix and upstream are added to the document as the three top-level fields the
// API expects.

import { api } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, append } from '../lib/dom.js';

/** The document with name, path_prefix and upstream added (JSON merged; YAML appended). */
export function withServiceFields(text, format, fields) {
  const upstream = { nodes: [{ url: fields.upstream_url, weight: 1 }] };
  if (format === 'json') {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      const err = new Error(`Not valid JSON: ${e.message}`);
      err.param = 'document';
      throw err;
    }
    return JSON.stringify({ ...doc, name: fields.name, path_prefix: fields.path_prefix, upstream });
  }
  // JSON scalars and objects are YAML flow values.
  return `${text.replace(/\s*$/, '')}\nname: ${JSON.stringify(fields.name ?? '')}\npath_prefix: ${JSON.stringify(fields.path_prefix ?? '')}\nupstream: ${JSON.stringify(upstream)}\n`;
}

export async function render(view, ctx) {
  const f = ui.form([
    { name: 'name', label: 'Service name', required: true },
    { name: 'path_prefix', label: 'Path prefix', required: true, placeholder: '/svc/pets' },
    { name: 'upstream_url', label: 'Upstream URL', required: true, placeholder: 'http://10.0.0.5:8000' },
    { name: 'format', label: 'Format', type: 'select', required: true, options: [{ value: 'json', label: 'JSON' }, { value: 'yaml', label: 'YAML' }] },
    { name: 'document', label: 'OpenAPI document', type: 'textarea', rows: 16, required: true, help: 'Paste the document; each operation becomes a route named by its operationId.' },
  ], {
    submitLabel: 'Import',
    submit: async (b) => {
      const body = withServiceFields(b.document || '', b.format, b);
      try {
        return await api('POST', '/admin/v1/services/import', body, { contentType: b.format === 'json' ? 'application/json' : 'application/yaml' });
      } catch (e) {
        // The API blames places in the document (`paths./pets.get`); show those by it.
        if (e.param && !['name', 'path_prefix', 'upstream'].some((p) => e.param === p || e.param.startsWith(`${p}.`))) {
          e.message = `${e.message}${e.param ? ` (at ${e.param})` : ''}`;
          e.param = 'document';
        } else if (e.param && e.param.startsWith('upstream')) e.param = 'upstream_url';
        throw e;
      }
    },
    done: (s) => {
      ui.toast(`Imported ${s.name} with ${s.routes.length} routes`);
      ctx.navigate('services', s.name);
    },
  });
  append(view, ui.header('OpenAPI import'), ctx.canWrite ? f : ui.notice('warn', 'Your role cannot import services.'), h('p', { class: 'muted' }, 'Swagger 2.0 documents must be converted to OpenAPI 3 first.'));
}
