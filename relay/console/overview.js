// The overview: per source, events/s over the relay's short history (the
// ring behind GET /admin/v1/overview) as a small chart and rejections by
// reason; per sink, delivered/s, lag, up/down and the last error; the spool's
// depth against its cap. Polled every two seconds while shown.
import {api} from './api.js';
import {clear, h, svg} from './dom.js';

const POLL_MS = 2000;
const W = 300;  // the chart's viewBox
const H = 60;

let state = null;

export function mount(root) {
  const body = h('div', {class: 'overview-body'});
  const status = h('p', {class: 'muted', testid: 'overview-status', role: 'status'}, 'loading…');
  root.append(h('section', {class: 'overview'}, h('h1', {}, 'Overview'), status, body));
  state = {body, status, timer: 0, controller: new AbortController()};
  poll();
}

export function unmount() {
  if (!state) return;
  clearTimeout(state.timer);
  state.controller.abort();
  state = null;
}

async function poll() {
  const s = state;
  if (!s) return;
  try {
    const {body} = await api('GET', '/overview', {signal: s.controller.signal});
    if (state !== s) return;
    render(s, body);
    s.status.textContent = `updated ${new Date().toLocaleTimeString()} · window ${
      Math.round((body.window_seconds || 900) / 60)} min`;
    s.status.classList.remove('error');
  } catch (e) {
    if (state !== s) return;
    s.status.textContent = e.message;
    s.status.classList.add('error');
  }
  s.timer = setTimeout(poll, POLL_MS);
}

// Mean of the last `n` values (the rate shown next to a chart).
function recent(values, n = 10) {
  const tail = (values || []).slice(-n);
  if (tail.length === 0) return 0;
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

function rate(v) {
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// A sparkline of one or two series sharing a scale (oldest left, newest
// right). data-points carries the main series' points, for tests.
// The x axis spans the seconds recorded so far (at least a minute, at most
// the relay's window), newest at the right edge.
function chart(testid, series, label, slots) {
  const max = Math.max(1, ...series.flatMap((x) => x.values));
  const n = Math.max(60, Math.min(slots, Math.max(...series.map((x) => x.values.length))));
  const pts = (values) => values
    .map((v, i) => {
      const x = ((n - values.length + i) / (n - 1)) * W;
      return `${x.toFixed(1)},${(H - 2 - (v / max) * (H - 4)).toFixed(1)}`;
    })
    .join(' ');
  const el = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'chart', role: 'img',
    'aria-label': label, testid,
  });
  el.append(svg('line', {x1: 0, y1: H - 2, x2: W, y2: H - 2, class: 'axis'}));
  for (const x of series) {
    if (x.values.length === 0) continue;
    el.append(svg('polyline', {points: pts(x.values), class: 'series ' + x.cls}));
  }
  el.dataset.points = series[0] ? pts(series[0].values) : '';
  el.dataset.max = String(max);
  return h('figure', {class: 'chart-box'}, el,
    h('figcaption', {class: 'axis-labels'},
      h('span', {}, n >= 120 ? `−${Math.round(n / 60)} min` : `−${n} s`), h('span', {}, `peak ${rate(max)}`), h('span', {}, 'now')));
}

function render(s, o) {
  const slots = Math.round((o.window_seconds || 900) / (o.interval_seconds || 1));
  const sources = (o.sources || []).map((src) => {
    const reasons = Object.entries(src.rejected_by_reason || {});
    return h('article', {class: 'card source-card', testid: 'overview-source', dataset: {source: src.id}},
      h('header', {},
        h('h3', {}, src.id || '(no source)'),
        h('span', {class: 'big', testid: 'source-rate'}, rate(recent(src.accepted_per_second)), ' ev/s')),
      chart('chart-source-' + (src.id || 'none'), [
        {values: src.accepted_per_second || [], cls: 'accepted'},
        {values: src.rejected_per_second || [], cls: 'rejected'},
      ], `events per second of ${src.id}`, slots),
      h('p', {class: 'muted'},
        h('span', {testid: 'source-accepted-total'}, `${src.accepted_total ?? 0} accepted`), ' · ',
        `${src.rejected_total ?? 0} rejected since start`),
      reasons.length
        ? h('table', {class: 'small', testid: 'rejected-reasons'},
          h('thead', {}, h('tr', {}, h('th', {}, 'rejected because'), h('th', {class: 'num'}, 'events'))),
          h('tbody', {}, reasons.map(([r, c]) => h('tr', {}, h('td', {}, r), h('td', {class: 'num'}, c)))))
        : null);
  });

  const sinks = (o.sinks || []).map((k) => h('article', {
    class: 'card sink-card', testid: 'overview-sink', dataset: {sink: k.name},
  },
  h('header', {},
    h('h3', {}, k.name, ' ', h('span', {class: 'muted'}, k.type)),
    h('span', {class: k.up ? 'badge up' : 'badge down', testid: 'sink-up'}, k.up ? 'up' : 'down')),
  chart('chart-sink-' + k.name, [{values: k.delivered_per_second || [], cls: 'delivered'}],
    `events delivered per second to ${k.name}`, slots),
  h('dl', {class: 'facts'},
    h('dt', {}, 'delivered/s'), h('dd', {}, rate(recent(k.delivered_per_second))),
    h('dt', {}, 'lag'), h('dd', {testid: 'sink-lag'}, `${k.lag_events ?? 0} events, ${k.lag_seconds ?? 0} s`),
    h('dt', {}, 'delivered'), h('dd', {}, String(k.delivered_total ?? 0)),
    h('dt', {}, 'dead-lettered'), h('dd', {}, String(k.dead_lettered_total ?? 0))),
  k.last_error ? h('p', {class: 'error', testid: 'sink-last-error'}, k.last_error) : null));

  const sp = o.spool || {};
  const spool = h('article', {class: 'card spool-card', testid: 'overview-spool'},
    h('header', {}, h('h3', {}, 'Spool'),
      h('span', {class: 'muted'}, `${bytes(sp.bytes || 0)} of ${bytes(sp.max_bytes || 0)}`)),
    h('meter', {min: 0, max: sp.max_bytes || 1, value: sp.bytes || 0, high: (sp.max_bytes || 1) * 0.8,
      testid: 'spool-meter'}),
    chart('chart-spool', [{values: sp.bytes_per_second || [], cls: 'spool'}], 'spool depth', slots),
    h('p', {class: 'muted'}, `last sequence number ${sp.last_seq ?? 0}`));

  clear(s.body).append(
    h('h2', {}, 'Sources'),
    sources.length ? h('div', {class: 'grid'}, sources) : h('p', {class: 'muted'}, 'No sources yet.'),
    h('h2', {}, 'Sinks'),
    sinks.length ? h('div', {class: 'grid'}, sinks) : h('p', {class: 'muted'}, 'No sinks.'),
    h('h2', {}, 'Spool'),
    h('div', {class: 'grid'}, spool));
}
