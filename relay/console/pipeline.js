// The pipeline: sources and their write keys, sinks (with the connection
// test), routes, the revision history (diff and restore) and, in a control
// relay, the fleet. Every change is a call to the admin API; a stale edit
// (412 revision_mismatch) shows the API's message and the current value.
import {api, enc, listAll} from './api.js';
import {clear, h} from './dom.js';
import {clearErrors, field, showError, splitList} from './forms.js';

const SINK_TYPES = ['file', 'stdout', 'http', 'kafka', 'postgres', 's3'];
const SINK_EXAMPLES = {
  file: {dir: 'data/events'},
  stdout: {},
  http: {url: 'https://relay.example.com/v1/batch', write_key: '...'},
  kafka: {brokers: '127.0.0.1:9092', topic: 'events'},
  postgres: {dsn: 'postgresql://user@localhost/db', table: 'events'},
  s3: {bucket: 'events', region: 'us-east-1', prefix: 'tern'},
};

let state = null;

export function mount(root) {
  const sections = {
    sources: h('div', {testid: 'sources'}),
    sinks: h('div', {testid: 'sinks'}),
    routes: h('div', {testid: 'routes'}),
    revisions: h('div', {testid: 'revisions'}),
    fleet: h('div', {testid: 'fleet'}),
  };
  state = {sections, alive: true};
  root.append(h('section', {class: 'pipeline'},
    h('h1', {}, 'Pipeline'),
    h('div', {class: 'card'}, h('h2', {}, 'Sources'), sourceForm(), sections.sources),
    h('div', {class: 'card'}, h('h2', {}, 'Sinks'), sinkCreateForm(), sections.sinks),
    h('div', {class: 'card'}, h('h2', {}, 'Routes'), routeForm(), sections.routes),
    h('div', {class: 'card'}, h('h2', {}, 'Revisions'), sections.revisions),
    sections.fleet));
  refreshAll();
}

export function unmount() {
  state = null;
}

function refreshAll() {
  return Promise.all([refreshSources(), refreshSinks(), refreshRoutes(), refreshRevisions(), refreshFleet()]);
}

// Loads a list into `el`, or shows why it could not.
async function load(el, path, render) {
  try {
    const items = await listAll(path);
    if (!state) return;
    clear(el).append(render(items));
  } catch (e) {
    if (state) clear(el).append(h('p', {class: 'error'}, e.message));
  }
}

function table(testid, head, rows) {
  return h('div', {class: 'table-wrap'}, h('table', {testid},
    h('thead', {}, h('tr', {}, head.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows)));
}

// ---- Sources and write keys -------------------------------------------------

function sourceForm() {
  const id = h('input', {placeholder: 'ios-app', testid: 'source-id', required: true});
  const created = h('div', {testid: 'created-source'});
  const form = h('form', {class: 'inline-form', testid: 'source-form'},
    field('New source id', 'id', id),
    h('button', {type: 'submit', class: 'primary', testid: 'source-create'}, 'Create source'),
    h('p', {class: 'form-error', role: 'alert'}));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    try {
      const {body} = await api('POST', '/sources', {body: {id: id.value.trim()}});
      id.value = '';
      clear(created).append(keyPanel(body.id, body.write_keys[0].key));
      await Promise.all([refreshSources(), refreshRevisions()]);
    } catch (e) {
      showError(form, e);
    }
  });
  return h('div', {}, form, created);
}

// A new write key, shown with a Copy button. Where the browser does not
// permit clipboard writes, the key is selected for the user to copy.
function keyPanel(source, key) {
  const value = h('input', {readonly: true, value: key, class: 'key', testid: 'new-key-value',
    'aria-label': `write key of ${source}`});
  const note = h('span', {class: 'muted', testid: 'copy-status', role: 'status'});
  const copy = h('button', {type: 'button', testid: 'copy-key'}, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(key);
      note.textContent = 'Copied.';
    } catch {
      value.focus();
      value.select();
      note.textContent = 'Copying was not permitted: the key is selected, copy it with Ctrl+C / ⌘C.';
    }
  });
  return h('div', {class: 'key-panel', testid: 'new-key'},
    h('p', {}, `Write key of `, h('strong', {}, source), ' (an SDK sends it as its write key):'),
    h('div', {class: 'row'}, value, copy), note);
}

function refreshSources() {
  return load(state.sections.sources, '/sources', (items) => {
    if (!items.length) return h('p', {class: 'muted'}, 'No sources.');
    return table('sources-table', ['Source', 'Ack', 'Write keys', ''], items.map(sourceRow));
  });
}

function sourceRow(src) {
  const error = h('p', {class: 'form-error', role: 'alert'});
  const keys = (src.write_keys || []).map((k) => h('li', {testid: 'write-key', dataset: {key: k.id}},
    h('code', {class: 'key'}, k.key), ' ',
    h('span', {class: 'muted created'}, k.created_at || ''), ' ',
    h('button', {type: 'button', class: 'secondary small', testid: 'revoke-key', onclick: async () => {
      clear(error);
      try {
        await api('DELETE', `/sources/${enc(src.id)}/write-keys/${enc(k.id)}`);
        await Promise.all([refreshSources(), refreshRevisions()]);
      } catch (e) {
        error.textContent = e.message;
      }
    }}, 'Revoke')));
  const addKey = h('button', {type: 'button', class: 'small', testid: 'add-key', onclick: async () => {
    clear(error);
    try {
      const {body} = await api('POST', `/sources/${enc(src.id)}/write-keys`, {body: {}});
      await Promise.all([refreshSources(), refreshRevisions()]);
      // The list was rebuilt: show the new key under the new row.
      const row = state && state.sections.sources.querySelector(`tr[data-source="${CSS.escape(src.id)}"] .new-key-slot`);
      if (row) row.append(keyPanel(src.id, body.key));
    } catch (e) {
      error.textContent = e.message;
    }
  }}, 'Add key');
  const del = h('button', {type: 'button', class: 'danger small', testid: 'source-delete', onclick: async () => {
    clear(error);
    try {
      await api('DELETE', `/sources/${enc(src.id)}`, {ifMatch: `"${src.revision}"`});
      await Promise.all([refreshSources(), refreshRevisions()]);
    } catch (e) {
      error.textContent = e.message;
    }
  }}, 'Delete');
  return h('tr', {testid: 'source-row', dataset: {source: src.id}},
    h('td', {}, h('strong', {}, src.id)),
    h('td', {}, src.ack_mode || 'local'),
    h('td', {}, h('ul', {class: 'keys'}, keys), h('div', {class: 'new-key-slot'}), error),
    h('td', {class: 'actions'}, addKey, del));
}

// ---- Sinks ------------------------------------------------------------------

function sinkCreateForm() {
  const name = h('input', {placeholder: 'archive', testid: 'sink-name', required: true});
  const type = h('select', {testid: 'sink-type'}, SINK_TYPES.map((t) => h('option', {value: t}, t)));
  const settings = h('textarea', {rows: 4, class: 'code', testid: 'sink-settings', spellcheck: 'false'});
  settings.value = JSON.stringify(SINK_EXAMPLES.file, null, 2);
  let touched = false;
  settings.addEventListener('input', () => {
    touched = true;
  });
  type.addEventListener('change', () => {
    if (!touched) settings.value = JSON.stringify(SINK_EXAMPLES[type.value] || {}, null, 2);
  });
  const form = h('form', {class: 'stack-form', testid: 'sink-form'},
    h('div', {class: 'row'}, field('New sink name', 'name', name), field('Type', 'type', type)),
    field('Settings (JSON: the keys of a [[sinks]] table)', 'settings', settings),
    h('span', {class: 'field-error', dataset: {errorFor: '*'}}),
    h('button', {type: 'submit', class: 'primary', testid: 'sink-create'}, 'Create sink'),
    h('p', {class: 'form-error', role: 'alert'}));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    let body;
    try {
      body = parseObject(settings.value);
    } catch (e) {
      showError(form, {field: 'settings', message: e.message});
      return;
    }
    try {
      await api('POST', '/sinks', {body: Object.assign({}, body, {name: name.value.trim(), type: type.value})});
      name.value = '';
      await Promise.all([refreshSinks(), refreshRevisions()]);
    } catch (e) {
      showError(form, e);
    }
  });
  return form;
}

function parseObject(text) {
  let v;
  try {
    v = JSON.parse(text || '{}');
  } catch (e) {
    throw new Error('not JSON: ' + e.message);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
  return v;
}

function refreshSinks() {
  return load(state.sections.sinks, '/sinks', (items) => {
    if (!items.length) return h('p', {class: 'muted'}, 'No sinks.');
    return table('sinks-table', ['Sink', 'Type', ''], items.map(sinkRow));
  });
}

function sinkRow(sink) {
  const out = h('div', {class: 'sink-out'});
  const test = h('button', {type: 'button', class: 'small', testid: 'sink-test', onclick: async () => {
    clear(out).append(h('span', {class: 'muted'}, 'testing…'));
    try {
      const {body} = await api('POST', `/sinks/${enc(sink.name)}:test`);
      clear(out).append(body.ok
        ? h('span', {class: 'ok', testid: 'sink-test-result'}, 'Connection OK')
        : h('span', {class: 'error', testid: 'sink-test-result'}, body.error || 'failed'));
    } catch (e) {
      clear(out).append(h('span', {class: 'error', testid: 'sink-test-result'}, e.message));
    }
  }}, 'Test connection');
  const edit = h('button', {type: 'button', class: 'small', testid: 'sink-edit', onclick: () => {
    openSinkEditor(sink.name, out);
  }}, 'Edit');
  const del = h('button', {type: 'button', class: 'danger small', testid: 'sink-delete', onclick: () => {
    deleteSink(sink, out, false);
  }}, 'Delete');
  return h('tr', {testid: 'sink-row', dataset: {sink: sink.name}},
    h('td', {}, h('strong', {}, sink.name)),
    h('td', {}, sink.type),
    h('td', {class: 'actions'}, test, edit, del, out));
}

async function deleteSink(sink, out, discard) {
  clear(out);
  try {
    await api('DELETE', `/sinks/${enc(sink.name)}`, {ifMatch: `"${sink.revision}"`,
      query: {discard: discard ? 'true' : ''}});
    await Promise.all([refreshSinks(), refreshRoutes(), refreshRevisions()]);
  } catch (e) {
    out.append(h('p', {class: 'error', role: 'alert'}, e.message));
    if (e.code === 'unread_events' && !discard) {
      out.append(h('button', {type: 'button', class: 'danger small', onclick: () => deleteSink(sink, out, true)},
        'Delete and discard them'));
    }
  }
}

// The edit form: the sink as JSON, saved with PUT and If-Match (the ETag it
// was read with). A 412 shows the API's message and the sink as it is now.
async function openSinkEditor(name, out) {
  clear(out);
  let etag;
  let sink;
  try {
    ({body: sink, etag} = await api('GET', `/sinks/${enc(name)}`));
  } catch (e) {
    out.append(h('p', {class: 'error'}, e.message));
    return;
  }
  const text = h('textarea', {rows: 8, class: 'code', testid: 'sink-edit-json', spellcheck: 'false'});
  const conflict = h('div', {class: 'conflict', testid: 'conflict'});
  const editable = (s) => {
    const copy = Object.assign({}, s);
    delete copy.revision;
    delete copy.name;
    return JSON.stringify(copy, null, 2);
  };
  text.value = editable(sink);
  const form = h('form', {class: 'stack-form', testid: 'sink-edit-form'},
    field(`Sink ${name} (revision ${sink.revision})`, 'settings', text),
    h('span', {class: 'field-error', dataset: {errorFor: '*'}}),
    h('div', {class: 'row'},
      h('button', {type: 'submit', class: 'primary', testid: 'sink-save'}, 'Save'),
      h('button', {type: 'button', class: 'secondary', onclick: () => clear(out)}, 'Cancel')),
    h('p', {class: 'form-error', role: 'alert', testid: 'sink-edit-error'}),
    conflict);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    clear(conflict);
    let body;
    try {
      body = parseObject(text.value);
    } catch (e) {
      showError(form, {field: 'settings', message: e.message});
      return;
    }
    try {
      await api('PUT', `/sinks/${enc(name)}`, {body: Object.assign(body, {name}), ifMatch: etag});
      await Promise.all([refreshSinks(), refreshRevisions()]);
      // The list was rebuilt: say so on the sink's new row.
      const row = state && state.sections.sinks.querySelector(`tr[data-sink="${CSS.escape(name)}"] .sink-out`);
      if (row) row.append(h('span', {class: 'ok', testid: 'sink-saved'}, 'Saved.'));
    } catch (e) {
      showError(form, e);
      if (e.status === 412) await showCurrent();
    }
  });
  // The value someone else committed, and a way to start again from it.
  async function showCurrent() {
    try {
      const now = await api('GET', `/sinks/${enc(name)}`);
      clear(conflict).append(
        h('p', {testid: 'conflict-title'},
          h('strong', {}, '412 revision_mismatch: '),
          `someone changed this sink since you opened it. It is now at revision ${now.body.revision}:`),
        h('pre', {class: 'json', testid: 'conflict-current'}, JSON.stringify(now.body, null, 2)),
        h('button', {type: 'button', testid: 'conflict-reload', onclick: () => {
          etag = now.etag;
          sink = now.body;
          text.value = editable(now.body);
          form.querySelector('label').textContent = `Sink ${name} (revision ${now.body.revision})`;
          clearErrors(form);
          clear(conflict);
        }}, 'Edit the current value'));
    } catch (e) {
      clear(conflict).append(h('p', {class: 'error'}, e.message));
    }
  }
  out.append(form);
}

// ---- Routes -----------------------------------------------------------------

function routeForm() {
  const id = h('input', {placeholder: '(generated)', testid: 'route-id'});
  const sources = h('input', {placeholder: 'web, ios-app', testid: 'route-sources'});
  const types = h('input', {placeholder: 'track (empty: every type)', testid: 'route-types'});
  const sinks = h('input', {placeholder: 'archive', testid: 'route-sinks', required: true});
  const form = h('form', {class: 'stack-form', testid: 'route-form'},
    h('div', {class: 'row'},
      field('Route id', 'id', id), field('Sources', 'sources', sources),
      field('Types', 'types', types), field('Sinks', 'sinks', sinks)),
    h('button', {type: 'submit', class: 'primary', testid: 'route-create'}, 'Add route'),
    h('p', {class: 'form-error', role: 'alert'}));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = {sources: splitList(sources.value), types: splitList(types.value), sinks: splitList(sinks.value)};
    if (id.value.trim()) body.id = id.value.trim();
    try {
      await api('POST', '/routes', {body});
      for (const i of [id, sources, types, sinks]) i.value = '';
      await Promise.all([refreshRoutes(), refreshRevisions()]);
    } catch (e) {
      showError(form, e);
    }
  });
  return form;
}

function refreshRoutes() {
  return load(state.sections.routes, '/routes', (items) => {
    if (!items.length) return h('p', {class: 'muted'}, 'No routes.');
    return table('routes-table', ['Route', 'Sources', 'Types', 'Sinks', ''], items.map((r) => {
      const error = h('span', {class: 'error', role: 'alert'});
      return h('tr', {testid: 'route-row', dataset: {route: r.id}},
        h('td', {}, r.id),
        h('td', {}, (r.sources || []).join(', ') || 'every source'),
        h('td', {}, (r.types || []).join(', ') || 'every type'),
        h('td', {}, (r.sinks || []).join(', ')),
        h('td', {class: 'actions'}, h('button', {type: 'button', class: 'danger small', testid: 'route-delete',
          onclick: async () => {
            try {
              await api('DELETE', `/routes/${enc(r.id)}`, {ifMatch: `"${r.revision}"`});
              await Promise.all([refreshRoutes(), refreshRevisions()]);
            } catch (e) {
              error.textContent = e.message;
            }
          }}, 'Delete'), error));
    }));
  });
}

// ---- Revisions --------------------------------------------------------------

async function refreshRevisions() {
  const el = state && state.sections.revisions;
  if (!el) return;
  try {
    const {body} = await api('GET', '/revisions', {query: {limit: 20}});
    if (!state) return;
    const items = body.items || [];
    const latest = items.length ? items[0].revision : 0;
    clear(el).append(items.length
      ? table('revisions-table', ['Revision', 'When', 'By', 'Summary', ''],
        items.map((r) => revisionRow(r, r.revision === latest)))
      : h('p', {class: 'muted'}, 'No revisions.'));
  } catch (e) {
    if (state) clear(el).append(h('p', {class: 'error'}, e.message));
  }
}

function revisionRow(rev, isLatest) {
  const out = h('div', {class: 'revision-out'});
  const diff = h('button', {type: 'button', class: 'small', testid: 'revision-diff', onclick: () => showDiff(rev, out)},
    'Diff');
  const restore = h('button', {type: 'button', class: 'small', testid: 'revision-restore', disabled: isLatest,
    title: isLatest ? 'the current revision' : '', onclick: () => confirmRestore(rev, out)}, 'Restore');
  return h('tr', {testid: 'revision-row', dataset: {revision: rev.revision}},
    h('td', {}, String(rev.revision), isLatest ? h('span', {class: 'badge up'}, 'current') : null),
    h('td', {}, rev.created_at),
    h('td', {}, rev.token_id),
    h('td', {}, rev.summary),
    h('td', {class: 'actions'}, diff, restore, out));
}

function diffList(entries) {
  if (!entries.length) return h('p', {class: 'muted', testid: 'diff-empty'}, 'No difference from the current state.');
  return h('ul', {class: 'diff', testid: 'diff'}, entries.map((d) =>
    h('li', {class: 'diff-' + d.op},
      h('span', {class: 'op'}, d.op === 'add' ? '+' : d.op === 'remove' ? '−' : '~'), ' ',
      d.resource, d.fields && d.fields.length ? ` (${d.fields.join(', ')})` : '')));
}

// The diff is the restore's dry run: what restoring this revision would
// change in the current state. The revision's whole state is below it.
async function showDiff(rev, out) {
  clear(out).append(h('span', {class: 'muted'}, 'loading…'));
  try {
    const [dry, full] = await Promise.all([
      api('POST', `/revisions/${rev.revision}:restore`, {query: {dry_run: 'true'}}),
      api('GET', `/revisions/${rev.revision}`),
    ]);
    clear(out).append(
      h('p', {}, `Restoring revision ${rev.revision} would change:`),
      diffList(dry.body.diff || []),
      (dry.body.errors || []).length
        ? h('ul', {class: 'error'}, dry.body.errors.map((e) => h('li', {}, e.message))) : null,
      h('details', {}, h('summary', {}, `The state at revision ${rev.revision}`),
        h('pre', {class: 'json'}, JSON.stringify(full.body.state, null, 2))));
  } catch (e) {
    clear(out).append(h('p', {class: 'error'}, e.message));
  }
}

function confirmRestore(rev, out) {
  clear(out).append(h('div', {class: 'row'},
    h('span', {}, `Commit revision ${rev.revision}'s state as a new revision?`),
    h('button', {type: 'button', class: 'danger small', testid: 'revision-restore-confirm', onclick: async () => {
      try {
        const {body} = await api('POST', `/revisions/${rev.revision}:restore`);
        await refreshAll();
        const note = state && state.sections.revisions;
        if (note) {
          note.prepend(h('p', {class: 'ok', testid: 'restored'},
            `Restored revision ${rev.revision} as revision ${body.revision ?? ''}.`));
        }
      } catch (e) {
        clear(out).append(h('p', {class: 'error', role: 'alert'}, e.message));
      }
    }}, 'Restore'),
    h('button', {type: 'button', class: 'secondary small', onclick: () => clear(out)}, 'Cancel')));
}

// ---- Fleet ------------------------------------------------------------------

async function refreshFleet() {
  const el = state && state.sections.fleet;
  if (!el) return;
  try {
    const items = await listAll('/relays');
    if (!state) return;
    clear(el);
    if (!items.length) return;  // not a control relay, or no relay reported yet
    el.append(h('div', {class: 'card'}, h('h2', {}, 'Fleet'),
      table('fleet-table', ['Relay', 'Revision', 'Status', 'Last seen', 'Version', 'Errors'], items.map((r) =>
        h('tr', {testid: 'fleet-row'},
          h('td', {}, r.relay_id),
          h('td', {}, String(r.applied_revision)),
          h('td', {}, h('span', {class: r.status === 'ok' ? 'badge up' : 'badge down'}, r.status)),
          h('td', {}, r.last_seen),
          h('td', {}, r.version),
          h('td', {}, (r.errors || []).map((e) => typeof e === 'string' ? e : JSON.stringify(e)).join('; ')))))));
  } catch (e) {
    if (state) clear(el).append(h('p', {class: 'error'}, 'Fleet: ' + e.message));
  }
}
