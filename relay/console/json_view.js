// Pretty-printed JSON as DOM nodes, with chosen paths marked (the fields the
// relay added to an event). Paths are dotted keys from the root:
// "event.receivedAt", "event.context.ip".
import {h} from './dom.js';

// Renders `value`; `marks` maps a path to the note shown on its line.
export function jsonView(value, marks = new Map()) {
  const pre = h('pre', {class: 'json'});
  write(pre, value, '', 0, marks, null);
  return pre;
}

function write(out, value, path, depth, marks, key) {
  const pad = '  '.repeat(depth);
  const line = [];
  if (key !== null) line.push(h('span', {class: 'json-key'}, JSON.stringify(key)), ': ');
  const note = marks.get(path);
  const holder = note ? h('span', {class: 'added', title: note, testid: 'added-' + path}) : null;
  const sink = holder || out;
  out.append(pad);
  if (holder) out.append(holder);
  sink.append(...line);
  if (value !== null && typeof value === 'object') {
    const isArray = Array.isArray(value);
    const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
    if (entries.length === 0) {
      sink.append(isArray ? '[]' : '{}');
      return;
    }
    sink.append(isArray ? '[' : '{');
    if (note) sink.append(h('span', {class: 'note'}, '  ← ' + note));
    out.append('\n');
    entries.forEach(([k, v], i) => {
      const childPath = isArray ? `${path}[${k}]` : path ? `${path}.${k}` : String(k);
      write(out, v, childPath, depth + 1, marks, isArray ? null : k);
      out.append(i + 1 < entries.length ? ',\n' : '\n');
    });
    out.append(pad + (isArray ? ']' : '}'));
    return;
  }
  const cls = value === null ? 'json-null' : 'json-' + typeof value;
  sink.append(h('span', {class: cls}, JSON.stringify(value)));
  if (note) sink.append(h('span', {class: 'note'}, '  ← ' + note));
}
