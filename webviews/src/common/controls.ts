/// <reference lib="dom" />
/** Small builders for @vscode-elements controls and tables (labels and cells as text). */
import { h } from './dom';

export function checkbox(label: string, checked: boolean, onChange: (checked: boolean) => void, data?: string): HTMLElement {
  const cb = h('vscode-checkbox', { ...(checked ? { checked: true } : {}), ...(data ? { 'data-toggle': data } : {}) }, label) as HTMLElement & { checked: boolean };
  cb.addEventListener('change', () => onChange(cb.checked));
  return cb;
}

export function select(options: { value: string; label: string }[], value: string, onChange: (value: string) => void, title?: string): HTMLElement {
  const s = h('vscode-single-select', { ...(title ? { title, 'aria-label': title } : {}) }) as HTMLElement & { value: string };
  for (const o of options) s.append(h('vscode-option', { value: o.value, ...(o.value === value ? { selected: true } : {}) }, o.label));
  s.addEventListener('change', () => onChange(s.value));
  return s;
}

export function table(header: string[], rows: (string | Node)[][], className?: string): HTMLElement {
  const head = h('vscode-table-header', { slot: 'header' }, ...header.map((c) => h('vscode-table-header-cell', {}, c)));
  const body = h('vscode-table-body', { slot: 'body' }, ...rows.map((r) => h('vscode-table-row', {}, ...r.map((c) => h('vscode-table-cell', {}, c)))));
  return h('vscode-table', { 'zebra': true, 'bordered-rows': true, ...(className ? { class: className } : {}), 'responsive': true }, head, body);
}
