/**
 * A titled card around a chart or table, with PNG, SVG and CSV export buttons. Each export
 * asks the chart for its scene (drawn at twice the size for a sharp PNG) or its rows.
 */
import { safeFileName, type CurveRef, type ExportFormat } from '../../../core/common/protocol/webview';
import { drawScene, sceneToSvg, type Scene } from '../charts/scene';
import { h } from './dom';
import type { Host } from './host';

export interface Exports {
  scene?: () => Scene | undefined;
  csv?: () => string | undefined;
  /** The plotted curves, for a full-resolution CSV from the host (where there is one). */
  curves?: () => CurveRef[];
}

export function sceneToPngBase64(scene: Scene, scale = 2): string {
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(scene.width * scale);
  canvas.height = Math.ceil(scene.height * scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context for the PNG export');
  ctx.scale(scale, scale);
  drawScene(ctx, scene);
  return canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
}

export function exportChart(host: Host, format: ExportFormat, name: string, ex: Exports): void {
  const fileName = safeFileName(name, format);
  if (format === 'csv') {
    const refs = ex.curves?.();
    if (refs?.length && host.saveCurves) {
      host.saveCurves(fileName, refs);
      return;
    }
    const csv = ex.csv?.();
    if (csv !== undefined) host.save('csv', fileName, csv);
    return;
  }
  const scene = ex.scene?.();
  if (!scene) return;
  host.save(format, fileName, format === 'svg' ? sceneToSvg(scene) : sceneToPngBase64(scene));
}

export interface Card {
  root: HTMLElement;
  body: HTMLElement;
  setTitle(title: string): void;
}

/** `name` is the export file name's stem (the run id is prepended by the caller). */
export function card(host: Host, title: string, name: () => string, ex: Exports, id?: string): Card {
  const heading = h('h3', { class: 'card-title' }, title);
  const tools = h('div', { class: 'card-tools' });
  const formats: ExportFormat[] = [
    ...(ex.scene ? (['png', 'svg'] as const) : []),
    ...(ex.csv ? (['csv'] as const) : []),
  ];
  for (const f of formats) {
    const b = h(
      'vscode-button',
      { secondary: true, title: `Save as ${f.toUpperCase()}`, 'data-export': f },
      f.toUpperCase(),
    );
    b.addEventListener('click', () => exportChart(host, f, name(), ex));
    tools.append(b);
  }
  const body = h('div', { class: 'card-body' });
  const root = h(
    'section',
    { class: 'card', ...(id ? { id } : {}) },
    h('header', { class: 'card-head' }, heading, tools),
    body,
  );
  return { root, body, setTitle: (t) => (heading.textContent = t) };
}
