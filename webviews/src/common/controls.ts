/// <reference lib="dom" />
/** Small builders for @vscode-elements controls, and data tables (labels and cells as text). */
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

/**
 * A data table: plain HTML in the theme's colours. Not vscode-table: its scrollable wrapper and
 * column-resize handles measure the page (getBoundingClientRect, getComputedStyle) as they update,
 * which forced layouts costing ~0.1 s of a long run's first render (bench:webviews); these tables
 * are a few rows of text that need neither.
 */
export function table(header: string[], rows: (string | Node)[][], className?: string): HTMLElement {
  const head = h('thead', {}, h('tr', {}, ...header.map((c) => h('th', { scope: 'col' }, c))));
  const body = h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c)))));
  return h('div', { class: `table-wrap${className ? ` ${className}` : ''}` }, h('table', { class: 'data-table' }, head, body));
}
