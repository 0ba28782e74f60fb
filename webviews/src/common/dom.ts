/**
 * DOM helpers. Strings always become text nodes (never markup), so nothing read from a run
 * file can inject elements or script; there is no `innerHTML` in the webviews.
 */
import { pathD, type Prim, type Scene } from '../charts/scene';

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, string | boolean | undefined>,
  ...children: Child[]
): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Record<string, string | boolean | undefined>, ...children: Child[]): HTMLElement;
export function h(
  tag: string,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const BASELINE = { top: 'hanging', middle: 'central', bottom: 'text-after-edge' } as const;

function svgEl(tag: string, attrs: Record<string, string | number>): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function withData(el: SVGElement, data: Record<string, string> | undefined, title: string | undefined): SVGElement {
  for (const [k, v] of Object.entries(data ?? {})) if (/^[a-z][a-z0-9-]*$/.test(k)) el.setAttribute(`data-${k}`, v);
  if (title) {
    const t = document.createElementNS(SVG_NS, 'title');
    t.textContent = title;
    el.append(t);
  }
  return el;
}

function primEl(p: Prim): SVGElement {
  switch (p.k) {
    case 'rect':
      return withData(
        svgEl('rect', {
          x: p.x,
          y: p.y,
          width: Math.max(0, p.w),
          height: Math.max(0, p.h),
          fill: p.fill,
          ...(p.stroke ? { stroke: p.stroke } : {}),
        }),
        p.data,
        p.title,
      );
    case 'line':
      return svgEl('line', {
        x1: p.x1,
        y1: p.y1,
        x2: p.x2,
        y2: p.y2,
        stroke: p.stroke,
        'stroke-width': p.width ?? 1,
        ...(p.dash ? { 'stroke-dasharray': p.dash.join(' ') } : {}),
      });
    case 'path': {
      const d = pathD(p.points);
      return withData(
        svgEl('path', {
          d,
          fill: 'none',
          stroke: p.stroke,
          'stroke-width': p.width ?? 1.5,
          ...(p.dash?.length ? { 'stroke-dasharray': p.dash.join(' ') } : {}),
        }),
        p.data,
        undefined,
      );
    }
    case 'circle':
      return withData(
        svgEl('circle', { cx: p.cx, cy: p.cy, r: p.r, fill: p.fill, ...(p.stroke ? { stroke: p.stroke } : {}) }),
        p.data,
        p.title,
      );
    case 'text': {
      const t = svgEl('text', {
        x: p.x,
        y: p.y,
        fill: p.fill,
        'font-size': p.size ?? 11,
        'text-anchor': p.anchor ?? 'start',
        'dominant-baseline': p.baseline ? BASELINE[p.baseline] : 'auto',
        ...(p.bold ? { 'font-weight': 'bold' } : {}),
        ...(p.rotate ? { transform: `rotate(${p.rotate} ${p.x} ${p.y})` } : {}),
      });
      t.textContent = p.text;
      return t;
    }
  }
}

/** The scene as an `<svg>` element (text as text nodes). */
export function sceneElement(scene: Scene): SVGSVGElement {
  const svg = svgEl('svg', {
    width: scene.width,
    height: scene.height,
    viewBox: `0 0 ${scene.width} ${scene.height}`,
    'font-family': scene.font,
    role: 'img',
  }) as SVGSVGElement;
  for (const p of scene.prims) svg.append(primEl(p));
  return svg;
}

/**
 * Stamps `document.body.dataset[name]` with the time now (epoch ms): marks the tests and benchmarks
 * read to time an open (`ready` sent, run arrived, rendered, drawn, painted).
 */
export function markTime(name: string): void {
  document.body.dataset[name] = String(Math.round(performance.timeOrigin + performance.now()));
}
