/**
 * The table's rows, virtualised: only the rows in view (and a screen's worth around them) are in
 * the DOM, between two spacer rows that keep the scroll height of all of them, so a table of any
 * number of runs costs the DOM of a few dozen rows. Rows have one fixed height (ROW_HEIGHT, set
 * in table.css too). Everything is text (`textContent`, `title`), never markup.
 */
import { cellText, type Column, type TableItem } from '../../../core/common/view/table';
import { h } from '../common/dom';

export const ROW_HEIGHT = 24;
/** Rows drawn above and below the visible ones, so a scroll of less than a screen shows drawn rows. */
const OVERSCAN = 20;

export interface GridEvents {
  /** A run's checkbox or row was clicked (`range`: with Shift). */
  toggle(runId: string, index: number, range: boolean): void;
  /** A run's row was double-clicked. */
  open(runId: string): void;
  /** An experiment's heading was clicked. */
  toggleGroup(experiment: string): void;
  /** A column's heading was clicked. */
  sort(columnId: string): void;
  /** The header's checkbox: select (true) or clear (false) every shown run. */
  selectAll(on: boolean): void;
}

export class Grid {
  readonly root: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly head: HTMLTableSectionElement;
  private readonly body: HTMLTableSectionElement;
  private items: readonly TableItem[] = [];
  private columns: readonly Column[] = [];
  private selected: ReadonlySet<string> = new Set();
  private frame = 0;
  private drawn = '';

  constructor(private readonly events: GridEvents) {
    this.head = h('thead');
    this.body = h('tbody');
    this.table = h('table', { class: 'data-table grid' }, this.head, this.body);
    this.root = h('div', { class: 'grid-scroll', tabindex: '0' }, this.table);
    this.root.addEventListener('scroll', () => {
      if (!this.frame) this.frame = requestAnimationFrame(() => ((this.frame = 0), this.drawRows()));
    });
    this.body.addEventListener('click', (e) => {
      const tr = (e.target as Element).closest('tr');
      if (!tr) return;
      if (tr.dataset.group !== undefined) this.events.toggleGroup(tr.dataset.group);
      else if (tr.dataset.run !== undefined) this.events.toggle(tr.dataset.run, Number(tr.dataset.index), e.shiftKey);
    });
    this.body.addEventListener('dblclick', (e) => {
      const run = (e.target as Element).closest('tr')?.dataset.run;
      if (run !== undefined) this.events.open(run);
    });
  }

  /** Shows these items with these columns (the header is drawn again, then the rows in view). */
  set(
    items: readonly TableItem[],
    columns: readonly Column[],
    selected: ReadonlySet<string>,
    sort?: { column: string; dir: 'asc' | 'desc' },
  ): void {
    this.items = items;
    this.columns = columns;
    this.selected = selected;
    const all = h('input', { type: 'checkbox', 'aria-label': 'select every shown run', 'data-select-all': '' });
    const runs = items.filter((i) => i.kind === 'run');
    all.checked = runs.length > 0 && runs.every((i) => selected.has(i.run.runId));
    all.addEventListener('change', () => this.events.selectAll(all.checked));
    const ths = columns.map((c) => {
      const arrow = sort?.column === c.id ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : '';
      const th = h(
        'th',
        {
          scope: 'col',
          'data-sort': c.id,
          title: `Sort by ${c.label}`,
          class: c.kind === 'number' ? 'num' : undefined,
        },
        c.label + arrow,
      );
      th.addEventListener('click', () => this.events.sort(c.id));
      return th;
    });
    this.head.replaceChildren(h('tr', {}, h('th', { class: 'pick' }, all), ...ths));
    this.drawn = '';
    this.drawRows();
  }

  /**
   * The selection changed: the rows in view are marked in place (not drawn again, so the second
   * click of a double click lands on the row the first one did).
   */
  select(selected: ReadonlySet<string>): void {
    this.selected = selected;
    for (const tr of this.body.querySelectorAll<HTMLElement>('tr[data-run]')) {
      const on = selected.has(tr.dataset.run ?? '');
      tr.classList.toggle('selected', on);
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
      const box = tr.querySelector('input');
      if (box) box.checked = on;
    }
  }

  private drawRows(): void {
    const view = this.root.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.root.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.items.length, Math.ceil((this.root.scrollTop + view) / ROW_HEIGHT) + OVERSCAN);
    const key = `${first}:${last}`;
    if (key === this.drawn) return;
    this.drawn = key;
    const span = this.columns.length + 1;
    const rows: HTMLElement[] = [];
    if (first > 0) rows.push(h('tr', { class: 'spacer' }, h('td', { colspan: String(span) })));
    for (let i = first; i < last; i++) {
      const item = this.items[i];
      if (item.kind === 'group') {
        rows.push(
          h(
            'tr',
            { class: 'group-row', 'data-group': item.experiment },
            h(
              'td',
              { colspan: String(span) },
              `${item.collapsed ? '▸' : '▾'} ${item.experiment} (${item.count} run${item.count === 1 ? '' : 's'})`,
            ),
          ),
        );
        continue;
      }
      const r = item.run;
      const on = this.selected.has(r.runId);
      const box = h('input', { type: 'checkbox', 'aria-label': `select ${r.runId}`, tabindex: '-1' });
      box.checked = on;
      rows.push(
        h(
          'tr',
          {
            'data-run': r.runId,
            'data-index': String(i),
            class: on ? 'selected' : undefined,
            'aria-selected': on ? 'true' : 'false',
          },
          h('td', { class: 'pick' }, box),
          ...this.columns.map((c) => {
            const text = cellText(c, r);
            return h(
              'td',
              {
                'data-col': c.id,
                class: c.id === 'state' ? `state-${r.state}` : c.kind === 'number' ? 'num' : undefined,
                title: text.length > 24 || c.id === 'state' ? text : undefined,
              },
              text,
            );
          }),
        ),
      );
    }
    if (last < this.items.length) rows.push(h('tr', { class: 'spacer' }, h('td', { colspan: String(span) })));
    this.body.replaceChildren(...rows);
    // Heights through the CSSOM: the page's CSP refuses style attributes, not style properties.
    const spacers = this.body.querySelectorAll<HTMLElement>('tr.spacer');
    let s = 0;
    if (first > 0) spacers[s++].style.height = `${first * ROW_HEIGHT}px`;
    if (last < this.items.length) spacers[s].style.height = `${(this.items.length - last) * ROW_HEIGHT}px`;
  }
}
