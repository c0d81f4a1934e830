// The debugger: the live tap (GET /admin/v1/tap, Server-Sent Events read with
// fetch() so the bearer token can be sent), newest first, filterable,
// pausable, with one event's whole JSON and the relay's additions marked.
import {ApiError, PREFIX, authHeaders, queryString} from './api.js';
import {clear, clock, h} from './dom.js';
import {jsonView} from './json_view.js';
import {readEventStream} from './sse.js';

const MAX_ROWS = 500;            // rows kept in the list (older ones fall off)
const FLUSH_MS = 100;            // new rows are added in batches this often
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];

const DROP_REASONS = {
  slow_reader: 'viewer too slow',
  sampled: 'over the tap\'s rate limit (sampled out)',
  behind: 'the tap fell behind the spool',
};

let state = null;  // everything of the mounted view; null when unmounted

export function mount(root) {
  const filters = {
    source: h('input', {id: 'f-source', placeholder: 'web, ios', testid: 'filter-source'}),
    type: h('input', {id: 'f-type', placeholder: 'track, identify', testid: 'filter-type'}),
    event: h('input', {id: 'f-event', placeholder: 'Order Completed', testid: 'filter-event'}),
    rejected: h('input', {id: 'f-rejected', type: 'checkbox', testid: 'filter-rejected'}),
  };
  const form = h('form', {class: 'filters', testid: 'filters'},
    h('label', {for: 'f-source'}, 'Source', filters.source),
    h('label', {for: 'f-type'}, 'Type', filters.type),
    h('label', {for: 'f-event'}, 'Event', filters.event),
    h('label', {for: 'f-rejected', class: 'inline'}, filters.rejected, ' rejected too'),
    h('button', {type: 'submit', testid: 'filter-apply'}, 'Apply'));
  const pause = h('button', {type: 'button', class: 'secondary', testid: 'pause'}, 'Pause');
  const clearButton = h('button', {type: 'button', class: 'secondary', testid: 'clear'}, 'Clear');
  const status = h('span', {class: 'status', testid: 'tap-status', role: 'status'}, 'connecting…');
  const count = h('span', {class: 'muted', testid: 'tap-count'}, '0 shown, 0 received');
  const notices = h('ul', {class: 'notices', testid: 'tap-notices', 'aria-live': 'polite'});
  const list = h('ol', {class: 'events', testid: 'event-list'});
  const detail = h('section', {class: 'detail card', testid: 'event-detail'},
    h('p', {class: 'muted'}, 'Click an event to see its whole JSON.'));

  root.append(
    h('section', {class: 'debugger'},
      h('h1', {}, 'Debugger'),
      form,
      h('div', {class: 'toolbar'}, pause, clearButton, status, count),
      notices,
      h('div', {class: 'split'}, h('div', {class: 'list-pane card'}, list), detail)));

  state = {
    filters, list, detail, status, count, notices, pause,
    rows: [],          // newest first: {message, el}
    pending: [],       // arrived, not yet shown (batched, or paused)
    paused: false, received: 0, selected: null,
    controller: null, attempt: 0, retryTimer: 0,
    flushTimer: setInterval(flush, FLUSH_MS),
  };
  // New filters start a new tap and a new list (what is shown always
  // matches the filters above it).
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearList();
    connect();
  });
  pause.addEventListener('click', togglePause);
  clearButton.addEventListener('click', clearList);
  connect();
}

function clearList() {
  const s = state;
  clear(s.list);
  s.rows = [];
  s.pending = [];
  s.received = 0;
  s.selected = null;
  showCount();
}

export function unmount() {
  if (!state) return;
  clearInterval(state.flushTimer);
  clearTimeout(state.retryTimer);
  if (state.controller) state.controller.abort();
  state = null;
}

function splitList(input) {
  return input.value.split(',').map((s) => s.trim()).filter(Boolean).join(',');
}

// (Re)opens the tap with the filters as query parameters.
function connect() {
  const s = state;
  clearTimeout(s.retryTimer);
  if (s.controller) s.controller.abort();
  const controller = new AbortController();
  s.controller = controller;
  const query = {
    source: splitList(s.filters.source),
    type: splitList(s.filters.type),
    event: splitList(s.filters.event),
    rejected: s.filters.rejected.checked ? 'true' : '',
  };
  setStatus('connecting…', 'connecting');
  run(query, controller).catch(() => {});
}

async function run(query, controller) {
  let ended = 'the tap ended';
  let retryAfterMs = 0;  // the relay's Retry-After (429 tap_limit), if it sent one
  try {
    const response = await fetch(PREFIX + '/tap' + queryString(query), {
      headers: authHeaders({Accept: 'text/event-stream'}),
      signal: controller.signal,
      cache: 'no-store',
    });
    if (response.status !== 200) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      const err = new ApiError(response.status, body);
      retryAfterMs = (Number(response.headers.get('Retry-After')) || 0) * 1000;
      if (response.status === 401) {
        location.reload();  // the token is gone: the app shows the login form
        return;
      }
      ended = err.message;
      if (response.status === 400 || response.status === 422) {
        setStatus(err.message, 'error');
        return;  // a bad filter: nothing to retry until it is changed
      }
    } else {
      setStatus('live', 'live');
      await readEventStream(response, {
        signal: controller.signal,
        onComment: (text) => {
          if (state && text.startsWith('tap open')) {
            state.attempt = 0;
            setStatus('live (' + text + ')', 'live');
          }
        },
        onMessage: onMessage,
      });
    }
  } catch (e) {
    if (controller.signal.aborted) return;
    ended = 'the tap was cut: ' + e.message;
  }
  if (!state || state.controller !== controller || controller.signal.aborted) return;
  // Ended without being asked to: try again, a little later each time.
  const delay = Math.max(retryAfterMs, BACKOFF_MS[Math.min(state.attempt, BACKOFF_MS.length - 1)]);
  state.attempt++;
  setStatus(`${ended}; reconnecting in ${Math.round(delay / 1000)} s`, 'error');
  state.retryTimer = setTimeout(connect, delay);
}

function onMessage(m) {
  const s = state;
  if (!s) return;
  let data;
  try {
    data = JSON.parse(m.data);
  } catch {
    return;
  }
  if (m.event === 'dropped') {
    const why = DROP_REASONS[data.reason] || data.reason;
    addNotice(`${data.dropped} events not shown: ${why}`);
    return;
  }
  s.received++;
  s.pending.push(data);
  if (s.pending.length > MAX_ROWS) s.pending.splice(0, s.pending.length - MAX_ROWS);
  showCount();
}

function addNotice(text) {
  const li = h('li', {testid: 'tap-notice'}, `${clock(new Date().toISOString())} ${text}`);
  state.notices.prepend(li);
  while (state.notices.children.length > 5) state.notices.lastChild.remove();
}

function togglePause() {
  const s = state;
  s.paused = !s.paused;
  s.pause.textContent = s.paused ? 'Resume' : 'Pause';
  s.pause.classList.toggle('primary', s.paused);
  if (!s.paused) flush();
  showCount();
}

function showCount() {
  const s = state;
  let text = `${s.rows.length} shown, ${s.received} received`;
  if (s.paused) text += ` — paused: ${s.pending.length} new`;
  s.count.textContent = text;
}

function setStatus(text, kind) {
  if (!state) return;
  state.status.textContent = text;
  state.status.dataset.state = kind;
}

// Moves pending messages into the list, newest on top.
function flush() {
  const s = state;
  if (!s || s.paused || s.pending.length === 0) return;
  const fragment = document.createDocumentFragment();
  const fresh = [];  // newest first, as the list shows them
  for (let i = s.pending.length - 1; i >= 0; i--) {
    const row = makeRow(s.pending[i]);
    fragment.append(row.el);
    fresh.push(row);
  }
  s.pending = [];
  s.rows = fresh.concat(s.rows);
  s.list.prepend(fragment);
  while (s.rows.length > MAX_ROWS) s.rows.pop().el.remove();
  showCount();
}

function eventName(e) {
  if (!e || typeof e !== 'object') return '';
  return e.event || e.name || e.userId || e.anonymousId || '';
}

function makeRow(message) {
  const e = message.event;
  const when = (e && typeof e === 'object' && (e.receivedAt || e.timestamp)) || new Date().toISOString();
  const el = h('li', {
    class: message.rejected ? 'event rejected' : 'event',
    testid: 'event-row', tabindex: '0',
    dataset: {
      seq: message.seq ?? '', source: message.source || '', type: message.type || '',
      event: eventName(e),
    },
  },
  h('span', {class: 'when'}, clock(when)),
  h('span', {class: 'badge'}, message.type || '?'),
  h('span', {class: 'name'}, message.rejected ? `rejected: ${message.reason}` : eventName(e)),
  h('span', {class: 'source muted'}, message.source || ''));
  const row = {message, el};
  el.addEventListener('click', () => select(row));
  el.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') select(row);
  });
  return row;
}

// The relay's additions to an event (docs/console.md lists them).
function relayMarks(message) {
  const marks = new Map();
  if (message.rejected) {
    marks.set('reason', 'why the relay refused it');
    return marks;
  }
  marks.set('seq', 'the spool\'s sequence number');
  marks.set('source', 'the source its write key belongs to');
  const e = message.event;
  if (!e || typeof e !== 'object') return marks;
  if ('receivedAt' in e) marks.set('event.receivedAt', 'added by the relay: when it arrived');
  if ('originalTimestamp' in e) {
    marks.set('event.timestamp', 'corrected by the relay for the device clock\'s skew (sentAt)');
    marks.set('event.originalTimestamp', 'added by the relay: the device\'s own timestamp');
  }
  if (e.context && typeof e.context === 'object') {
    if ('ip' in e.context) marks.set('event.context.ip', 'the client address the relay saw');
    if ('sourceId' in e.context) marks.set('event.context.sourceId', 'added by the relay');
  }
  return marks;
}

function select(row) {
  const s = state;
  if (s.selected) s.selected.el.classList.remove('selected');
  s.selected = row;
  row.el.classList.add('selected');
  const m = row.message;
  clear(s.detail).append(...[
    h('div', {class: 'detail-head'},
      h('h2', {}, m.rejected ? 'Rejected event' : (eventName(m.event) || m.type || 'Event')),
      h('button', {type: 'button', class: 'secondary', testid: 'detail-close',
        onclick: () => {
          row.el.classList.remove('selected');
          s.selected = null;
          clear(s.detail).append(h('p', {class: 'muted'}, 'Click an event to see its whole JSON.'));
        }}, 'Close')),
    m.rejected ? h('p', {class: 'error'}, m.message || m.reason) : null,
    relaySummary(m),
    h('p', {class: 'legend'}, h('span', {class: 'added'}, 'marked'), ' fields were added or changed by the relay.'),
    jsonView(m, relayMarks(m))].filter(Boolean));
  // On a phone the detail is below the list: bring it into view.
  if (window.matchMedia('(max-width: 760px)').matches) s.detail.scrollIntoView({block: 'start'});
}

// What the relay added, at the top, before the whole JSON.
function relaySummary(m) {
  const e = m.event;
  if (m.rejected || !e || typeof e !== 'object') return null;
  const rows = [
    ['received', e.receivedAt],
    ['timestamp', 'originalTimestamp' in e ? `${e.timestamp} (device said ${e.originalTimestamp})` : e.timestamp],
    ['client ip', e.context && e.context.ip],
    ['source', m.source],
    ['spool seq', m.seq],
  ].filter(([, v]) => v !== undefined && v !== null && v !== '');
  return h('dl', {class: 'facts relay-facts', testid: 'relay-fields'},
    rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
}
