// Showing the admin API's errors where they belong: next to the field the
// error names (an element with data-error-for="<field>"), else at the form's
// own error line, with any per-field details listed.
import {clear, h} from './dom.js';

export function clearErrors(form) {
  for (const el of form.querySelectorAll('[data-error-for], .form-error')) clear(el);
  for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
}

export function showError(form, err) {
  clearErrors(form);
  const field = err.field || '';
  // "settings.sampleRate" falls back to "settings"; "brokers" to the sink's settings.
  const candidates = field ? [field, field.split('.')[0], field.split('[')[0], '*'] : [];
  let target = null;
  for (const c of candidates) {
    if (!c) continue;
    target = form.querySelector(`[data-error-for="${CSS.escape(c)}"]`);
    if (target) break;
  }
  if (!target) target = form.querySelector('.form-error');
  const text = field && target && target.dataset.errorFor === '*' ? `${field}: ${err.message}` : err.message;
  target.append(text);
  const input = target.previousElementSibling;
  if (input && target.dataset.errorFor) input.classList.add('invalid');
  // One detail repeats the message itself; several are listed.
  const details = (err.details || []).filter((d) => d.message);
  if (details.length > 1) {
    const where = form.querySelector('.form-error') || target;
    where.append(h('ul', {}, details.map((d) =>
      h('li', {}, [d.resource, d.field].filter(Boolean).join(' ') + ': ' + d.message))));
  }
  return target;
}

// A labelled input with its error line right after it.
export function field(label, name, input) {
  input.id = input.id || 'in-' + name + '-' + Math.random().toString(36).slice(2, 7);
  input.name = name;
  return h('div', {class: 'field'},
    h('label', {for: input.id}, label),
    input,
    h('span', {class: 'field-error', dataset: {errorFor: name}, role: 'alert'}));
}

export function splitList(text) {
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}
