// Dead letters: per sink, the newest events it gave up on, with the reason
// (GET /admin/v1/sinks/{name}/dead-letters).
import {api, enc, listAll} from './api.js';
import {clear, h} from './dom.js';
import {jsonView} from './json_view.js';

const LIMIT = 50;
let state = null;

export function mount(root) {
  const body = h('div', {testid: 'dead-letters'}, h('p', {class: 'muted'}, 'loading…'));
  const refresh = h('button', {type: 'button', class: 'secondary', testid: 'dead-letters-refresh'}, 'Refresh');
  root.append(h('section', {class: 'dead-letters'},
    h('div', {class: 'detail-head'}, h('h1', {}, 'Dead letters'), refresh),
    h('p', {class: 'muted'}, `The newest ${LIMIT} events each sink dead-lettered, newest first.`),
    body));
  state = {body};
  refresh.addEventListener('click', () => load());
  load();
}

export function unmount() {
  state = null;
}

async function load() {
  const s = state;
  if (!s) return;
  try {
    const sinks = await listAll('/sinks');
    const answers = await Promise.all(sinks.map((k) =>
      api('GET', `/sinks/${enc(k.name)}/dead-letters`, {query: {limit: LIMIT}})
        .then((r) => ({sink: k, body: r.body}), (e) => ({sink: k, error: e}))));
    if (state !== s) return;
    clear(s.body);
    if (!answers.length) s.body.append(h('p', {class: 'muted'}, 'No sinks.'));
    for (const a of answers) s.body.append(sinkCard(a));
  } catch (e) {
    if (state === s) clear(s.body).append(h('p', {class: 'error'}, e.message));
  }
}

function sinkCard({sink, body, error}) {
  const items = (body && body.items) || [];
  return h('article', {class: 'card', testid: 'dead-letter-sink', dataset: {sink: sink.name}},
    h('header', {class: 'detail-head'},
      h('h2', {}, sink.name, ' ', h('span', {class: 'muted'}, sink.type)),
      error ? null : h('span', {class: items.length ? 'badge down' : 'badge up'}, `${items.length} shown`)),
    error ? h('p', {class: 'error', testid: 'dead-letters-error'}, error.message) : null,
    body && body.path ? h('p', {class: 'muted'}, 'file: ', h('code', {}, body.path)) : null,
    !error && !items.length ? h('p', {class: 'muted', testid: 'dead-letters-none'}, 'None.') : null,
    items.length ? h('ol', {class: 'dead-list'}, items.map((d) => h('li', {testid: 'dead-letter'},
      h('details', {},
        h('summary', {},
          h('span', {class: 'badge'}, `seq ${d.seq ?? '?'}`), ' ',
          h('span', {class: 'muted'}, d.source || ''), ' ',
          h('span', {class: 'error'}, d.reason || '')),
        jsonView(d.event))))) : null);
}
