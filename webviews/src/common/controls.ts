/** Small builders for @vscode-elements controls, and data tables (labels and cells as text). */
import { h } from './dom';

export function checkbox(
  label: string,
  checked: boolean,
  onChange: (checked: boolean) => void,
  data?: string,
): HTMLElement {
  const cb = h(
    'vscode-checkbox',
    { ...(checked ? { checked: true } : {}), ...(data ? { 'data-toggle': data } : {}) },
    label,
  ) as HTMLElement & { checked: boolean };
  cb.addEventListener('change', () => onChange(cb.checked));
  return cb;
}

/**
 * A drop-down: a native <select> in the theme's dropdown colours (`.select` in base.css). Not
 * vscode-single-select (no longer bundled: the dashboard's script is 143 KB instead of 190 KB):
 * it positions its closed drop-down on every update by reading getBoundingClientRect, which
 * forced a layout of the whole page right after a render, twice (84 ms in a profile of
 * bench:webviews; the page is laid out once anyway, so the saving is the second layout).
 */
export function select(
  options: { value: string; label: string }[],
  value: string,
  onChange: (value: string) => void,
  title?: string,
): HTMLElement {
  const s = h(
    'select',
    { class: 'select', ...(title ? { title, 'aria-label': title } : {}) },
    ...options.map((o) => h('option', { value: o.value }, o.label)),
  );
  s.value = value;
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
  return h(
    'div',
    { class: `table-wrap${className ? ` ${className}` : ''}` },
    h('table', { class: 'data-table' }, head, body),
  );
}
