/**
 * The experiments table: every run of the workspace, grouped by experiment, with the parameters
 * of its resolved experiment and each method's metrics. Sort (a column's heading), filter (a
 * query, core/common/view/table.ts `parseFilter`), choose and reorder columns, select runs and
 * open them in the comparison or their dashboards, export what is shown as CSV, and draw the
 * shown runs' parameters against a metric as parallel coordinates. The model is
 * core/common/view/table.ts; the rows are virtualised (grid.ts). The choices survive a reload
 * (`setState`).
 */
import type { HostMessage, TableRun } from '../../../core/common/protocol/webview';
import {
  defaultColumnIds,
  filterRuns,
  parseFilter,
  sortRuns,
  tableColumns,
  tableCsv,
  tableItems,
  visibleColumns,
  type Column,
  type SortKey,
  type TableItem,
} from '../../../core/common/view/table';
import { toCsv } from '../../../core/common/view/csv';
import { parallelScene, type ParallelData } from '../charts/parallelScene';
import { card } from '../common/chartCard';
import { select } from '../common/controls';
import { h, markTime, sceneElement } from '../common/dom';
import type { Host } from '../common/host';
import { readTheme, watchTheme } from '../common/theme';
import { Grid } from './grid';

export interface TableState {
  /** Shown column ids, in order. */
  shown?: string[];
  /** Every column id there was when `shown` was chosen (later ones are added as the defaults say). */
  known?: string[];
  sort?: SortKey;
  filter?: string;
  group?: boolean;
  collapsed?: string[];
  selected?: string[];
  /** The parallel coordinates: shown, and against which metric column. */
  parallel?: boolean;
  metric?: string;
  columnsOpen?: boolean;
}

export class TableApp {
  private runs: TableRun[] = [];
  private columns: Column[] = [];
  private state: TableState;
  private selected: Set<string>;
  private items: TableItem[] = [];
  private shown: Column[] = [];
  /** The filtered runs in sorted order (what the CSV and the parallel coordinates take). */
  private view: TableRun[] = [];
  private lastClicked = -1;
  private readonly title = h('h1', {}, 'Experiments');
  private readonly counts = h('span', { class: 'caption', 'data-counts': '' });
  private readonly filterInput = h('input', {
    type: 'search',
    class: 'filter',
    placeholder: 'Filter: words, or column:text, lr<0.01, acc:aft>=90, state=failed',
    'aria-label': 'filter the runs',
  });
  private readonly problems = h('p', { class: 'caption filter-problems', role: 'status' });
  private readonly selection = h('span', { class: 'caption', 'data-selection': '' });
  private readonly compareButton = h('vscode-button', { 'data-action': 'compare', disabled: true }, 'Compare');
  private readonly dashboardButton = h(
    'vscode-button',
    { 'data-action': 'dashboard', secondary: true, disabled: true },
    'Show Dashboard',
  );
  private readonly chooser = h('div', { class: 'column-chooser', 'data-chooser': '' });
  private readonly grid: Grid;
  private readonly parallelBox = h('div', { class: 'parallel' });
  private readonly message = h('div');

  constructor(
    private readonly host: Host,
    root: HTMLElement,
  ) {
    this.state = host.getState<TableState>() ?? {};
    this.selected = new Set(this.state.selected ?? []);
    this.filterInput.value = this.state.filter ?? '';
    this.filterInput.addEventListener('input', () => {
      this.save({ filter: this.filterInput.value });
      this.update();
    });
    this.compareButton.addEventListener('click', () => this.open('compare'));
    this.dashboardButton.addEventListener('click', () => this.open('dashboard'));
    const refresh = h(
      'vscode-button',
      { secondary: true, 'data-action': 'refresh', title: 'Read the run store again' },
      'Refresh',
    );
    refresh.addEventListener('click', () => host.refresh?.());
    const csv = h(
      'vscode-button',
      { secondary: true, 'data-export': 'csv', title: 'Save the shown rows and columns as CSV' },
      'CSV',
    );
    csv.addEventListener('click', () => host.save('csv', 'experiments.csv', tableCsv(this.view, this.shown)));
    const columnsButton = h('vscode-button', { secondary: true, 'data-action': 'columns' }, 'Columns…');
    columnsButton.addEventListener('click', () => {
      this.save({ columnsOpen: !this.state.columnsOpen });
      this.drawChooser();
    });
    const group = h('input', { type: 'checkbox', 'data-toggle': 'group' });
    group.checked = this.state.group !== false;
    group.addEventListener('change', () => {
      this.save({ group: group.checked });
      this.update();
    });
    const parallel = h('input', { type: 'checkbox', 'data-toggle': 'parallel' });
    parallel.checked = this.state.parallel === true;
    parallel.addEventListener('change', () => {
      this.save({ parallel: parallel.checked });
      this.drawParallel();
    });
    this.grid = new Grid({
      toggle: (id, index, range) => this.toggle(id, index, range),
      open: (id) => host.openRuns?.('dashboard', [id]),
      toggleGroup: (name) => {
        const c = new Set(this.state.collapsed ?? []);
        if (c.has(name)) c.delete(name);
        else c.add(name);
        this.save({ collapsed: [...c] });
        this.update();
      },
      sort: (id) => {
        const dir = this.state.sort?.column === id && this.state.sort.dir === 'asc' ? 'desc' : 'asc';
        this.save({ sort: { column: id, dir } });
        this.update();
      },
      selectAll: (on) => {
        for (const r of this.view)
          if (on) this.selected.add(r.runId);
          else this.selected.delete(r.runId);
        this.selectionChanged();
      },
    });
    root.append(
      h('header', { class: 'run-header' }, this.title, this.counts, refresh),
      this.message,
      h(
        'div',
        { class: 'controls' },
        this.filterInput,
        h('label', { class: 'control-group' }, group, 'Group by experiment'),
        h('label', { class: 'control-group' }, parallel, 'Parallel coordinates'),
        columnsButton,
        csv,
        h('span', { class: 'control-group' }, this.compareButton, this.dashboardButton, this.selection),
      ),
      this.problems,
      this.chooser,
      this.grid.root,
      this.parallelBox,
    );
    watchTheme(() => this.drawParallel());
  }

  start(): void {
    this.host.start((m) => this.onMessage(m));
  }

  onMessage(m: HostMessage): void {
    if (m.type === 'table') {
      if (!document.body.dataset.dataAt) markTime('dataAt');
      this.runs = m.runs;
      this.columns = tableColumns(this.runs);
      // Runs deleted since are no longer selected.
      const ids = new Set(this.runs.map((r) => r.runId));
      for (const id of this.selected) if (!ids.has(id)) this.selected.delete(id);
      this.message.replaceChildren();
      this.update();
      this.drawChooser();
    } else if (m.type === 'error') {
      this.message.replaceChildren(h('p', { class: 'error', role: 'alert' }, m.message));
    }
  }

  private save(patch: Partial<TableState>): void {
    this.state = { ...this.state, ...patch };
    this.host.setState(this.state);
  }

  private shownIds(): string[] {
    return this.state.shown ?? defaultColumnIds(this.columns);
  }

  /** Filter, sort, group and draw (timed: the benchmark reads `viewMs`). */
  private update(): void {
    const t0 = performance.now();
    this.shown = visibleColumns(this.columns, this.shownIds(), this.state.known ?? this.columns.map((c) => c.id));
    const parsed = parseFilter(this.state.filter ?? '', this.columns);
    this.view = sortRuns(filterRuns(this.runs, parsed, this.columns, this.shown), this.state.sort, this.columns);
    this.items = tableItems(this.view, this.state.group !== false, new Set(this.state.collapsed ?? []));
    this.grid.set(this.items, this.shown, this.selected, this.state.sort);
    this.problems.textContent = parsed.problems.length
      ? `Filter: ${parsed.problems.join('; ')} (matched as text).`
      : '';
    this.counts.textContent =
      this.view.length === this.runs.length
        ? `${this.runs.length} runs`
        : `${this.view.length} of ${this.runs.length} runs`;
    this.selectionChanged(false);
    this.drawParallel();
    document.body.dataset.viewMs = String(Math.round((performance.now() - t0) * 10) / 10);
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
    markTime('drawnAt');
    if (!document.body.dataset.firstDrawnAt) markTime('firstDrawnAt');
  }

  private toggle(id: string, index: number, range: boolean): void {
    if (range && this.lastClicked >= 0) {
      const on = !this.selected.has(id);
      const [a, b] = index < this.lastClicked ? [index, this.lastClicked] : [this.lastClicked, index];
      for (let i = a; i <= b; i++) {
        const item = this.items[i];
        if (item?.kind !== 'run') continue;
        if (on) this.selected.add(item.run.runId);
        else this.selected.delete(item.run.runId);
      }
    } else if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
    this.lastClicked = index;
    this.selectionChanged();
  }

  private selectionChanged(redraw = true): void {
    this.save({ selected: [...this.selected] });
    const n = this.selected.size;
    this.selection.textContent = n ? `${n} selected` : '';
    for (const b of [this.compareButton, this.dashboardButton])
      (b as HTMLElement & { disabled: boolean }).disabled = n === 0;
    if (redraw) this.grid.select(this.selected);
  }

  private open(action: 'compare' | 'dashboard'): void {
    // In the order shown; runs filtered out stay selected but are not opened.
    const ids = this.view.filter((r) => this.selected.has(r.runId)).map((r) => r.runId);
    if (ids.length) this.host.openRuns?.(action, ids);
  }

  /** The column chooser: every column with a checkbox, the shown ones first in their order with ↑/↓. */
  private drawChooser(): void {
    this.chooser.hidden = !this.state.columnsOpen;
    if (!this.state.columnsOpen) return;
    const shown = this.shown.map((c) => c.id);
    const rest = this.columns.filter((c) => !shown.includes(c.id));
    const setShown = (ids: string[]): void => {
      this.save({ shown: ids, known: this.columns.map((c) => c.id) });
      this.update();
      this.drawChooser();
    };
    const item = (c: Column, on: boolean, i: number): HTMLElement => {
      const box = h('input', { type: 'checkbox', 'data-column': c.id });
      box.checked = on;
      box.addEventListener('change', () => setShown(on ? shown.filter((x) => x !== c.id) : [...shown, c.id]));
      const move = (d: -1 | 1, label: string): HTMLElement => {
        const b = h(
          'button',
          {
            class: 'move',
            'data-move': `${c.id}:${d}`,
            title: `Move ${c.label} ${d < 0 ? 'left' : 'right'}`,
            disabled: !on || i + d < 0 || i + d >= shown.length,
          },
          label,
        );
        b.addEventListener('click', () => {
          const next = [...shown];
          [next[i], next[i + d]] = [next[i + d], next[i]];
          setShown(next);
        });
        return b;
      };
      return h(
        'li',
        {},
        h('label', {}, box, `${c.label} `, h('span', { class: 'caption' }, c.group)),
        move(-1, '↑'),
        move(1, '↓'),
      );
    };
    this.chooser.replaceChildren(
      h('ul', {}, ...this.shown.map((c, i) => item(c, true, i)), ...rest.map((c) => item(c, false, -1))),
    );
  }

  /** The axes: the shown parameter columns; the metric: a chosen metric column. */
  private parallelData(): ParallelData | undefined {
    const metrics = this.columns.filter((c) => c.group === 'metric' && c.kind === 'number');
    const metric = metrics.find((c) => c.id === this.state.metric) ?? metrics.find((c) => c.id.startsWith('acc:'));
    if (!metric) return undefined;
    const params = this.shown.filter((c) => c.group === 'parameter');
    return {
      axes: params.map((c) => ({ label: c.label, values: this.view.map((r) => c.value(r)) })),
      metric: {
        label: metric.label,
        values: this.view.map((r) => metric.value(r)),
        format: /^(acc|best|last):/.test(metric.id) ? (v: number) => `${(v * 100).toFixed(1)}` : undefined,
      },
      names: this.view.map((r) => r.runId),
    };
  }

  private drawParallel(): void {
    if (!this.state.parallel) {
      this.parallelBox.replaceChildren();
      return;
    }
    const data = this.parallelData();
    const metrics = this.columns.filter((c) => c.group === 'metric' && c.kind === 'number');
    const c = card(
      this.host,
      'Parallel coordinates',
      () => 'experiments-parallel',
      {
        scene: () => (data ? parallelScene(data, readTheme()) : undefined),
        csv: () =>
          data
            ? toCsv(
                ['run', ...data.axes.map((a) => a.label), data.metric.label],
                data.names.map((n, i) => [n, ...data.axes.map((a) => a.values[i]), data.metric.values[i]]),
              )
            : undefined,
      },
      'parallel',
    );
    c.body.append(
      h(
        'div',
        { class: 'controls' },
        h(
          'div',
          { class: 'control-group' },
          h('span', { class: 'control-label' }, 'Metric'),
          select(
            metrics.map((m) => ({ value: m.id, label: m.label })),
            data ? (metrics.find((m) => m.label === data.metric.label)?.id ?? '') : '',
            (v) => {
              this.save({ metric: v });
              this.drawParallel();
            },
            'metric of the last axis and the colour',
          ),
        ),
      ),
    );
    if (data && this.view.length) c.body.append(sceneElement(parallelScene(data, readTheme())));
    else c.body.append(h('p', { class: 'empty' }, 'No shown run has a metric yet (runs without a summary have none).'));
    this.parallelBox.replaceChildren(c.root);
  }
}
