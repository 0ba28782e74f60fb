/**
 * A chart as a list of drawing primitives, rendered three ways from one description: as SVG
 * text (the SVG export), as SVG elements in the page (bars, scatter, histograms on screen), and
 * onto a canvas (the PNG export). Text is always set as text (escaped in SVG, `textContent` in
 * the DOM), so a source or method name from a run file cannot become markup.
 */

export type Prim =
  | {
      k: 'rect';
      x: number;
      y: number;
      w: number;
      h: number;
      fill: string;
      stroke?: string;
      title?: string;
      data?: Record<string, string>;
    }
  | { k: 'line'; x1: number; y1: number; x2: number; y2: number; stroke: string; width?: number; dash?: number[] }
  /** A polyline; a NaN coordinate breaks it into pieces (a gap in the data). */
  | { k: 'path'; points: number[]; stroke: string; width?: number; dash?: number[]; data?: Record<string, string> }
  | {
      k: 'circle';
      cx: number;
      cy: number;
      r: number;
      fill: string;
      stroke?: string;
      title?: string;
      data?: Record<string, string>;
    }
  | {
      k: 'text';
      x: number;
      y: number;
      text: string;
      fill: string;
      size?: number;
      anchor?: 'start' | 'middle' | 'end';
      baseline?: 'top' | 'middle' | 'bottom';
      rotate?: number;
      bold?: boolean;
    };

export interface Scene {
  width: number;
  height: number;
  background: string;
  font: string;
  prims: Prim[];
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for SVG/XML content and attribute values; drops characters XML cannot hold. */
export function escapeXml(s: string): string {
  return (
    s
      // eslint-disable-next-line no-control-regex -- removing the control characters XML 1.0 forbids
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/[&<>"']/g, (c) => XML_ESCAPES[c])
  );
}

const r2 = (v: number): string => String(Math.round(v * 100) / 100);

/**
 * Walks a polyline given as flat [x0, y0, x1, y1, ...], lifting the pen over non-finite points
 * (gaps in a series): `visit(x, y, draw)` is called with draw=false where a new segment starts.
 * Canvas drawing and both SVG renderers share this one walk.
 */
export function walkPath(points: readonly number[], visit: (x: number, y: number, draw: boolean) => void): void {
  let pen = false;
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i];
    const y = points[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      pen = false;
      continue;
    }
    visit(x, y, pen);
    pen = true;
  }
}

/** The SVG `d` attribute of a polyline (coordinates rounded to 0.01). */
export function pathD(points: readonly number[]): string {
  let d = '';
  walkPath(points, (x, y, draw) => (d += `${draw ? 'L' : 'M'}${r2(x)} ${r2(y)}`));
  return d;
}

const BASELINE = { top: 'hanging', middle: 'central', bottom: 'text-after-edge' } as const;

function svgAttrs(p: Prim): [string, Record<string, string>, string | undefined] {
  switch (p.k) {
    case 'rect':
      return [
        'rect',
        {
          x: r2(p.x),
          y: r2(p.y),
          width: r2(Math.max(0, p.w)),
          height: r2(Math.max(0, p.h)),
          fill: p.fill,
          ...(p.stroke ? { stroke: p.stroke } : {}),
          ...dataAttrs(p.data),
        },
        p.title,
      ];
    case 'line':
      return [
        'line',
        {
          x1: r2(p.x1),
          y1: r2(p.y1),
          x2: r2(p.x2),
          y2: r2(p.y2),
          stroke: p.stroke,
          'stroke-width': String(p.width ?? 1),
          ...(p.dash ? { 'stroke-dasharray': p.dash.join(' ') } : {}),
        },
        undefined,
      ];
    case 'path':
      return [
        'path',
        {
          d: pathD(p.points),
          fill: 'none',
          stroke: p.stroke,
          'stroke-width': String(p.width ?? 1.5),
          'stroke-linejoin': 'round',
          ...(p.dash ? { 'stroke-dasharray': p.dash.join(' ') } : {}),
          ...dataAttrs(p.data),
        },
        undefined,
      ];
    case 'circle':
      return [
        'circle',
        {
          cx: r2(p.cx),
          cy: r2(p.cy),
          r: r2(p.r),
          fill: p.fill,
          ...(p.stroke ? { stroke: p.stroke } : {}),
          ...dataAttrs(p.data),
        },
        p.title,
      ];
    case 'text':
      return [
        'text',
        {
          x: r2(p.x),
          y: r2(p.y),
          fill: p.fill,
          'font-size': String(p.size ?? 11),
          'text-anchor': p.anchor ?? 'start',
          'dominant-baseline': p.baseline ? BASELINE[p.baseline] : 'auto',
          ...(p.bold ? { 'font-weight': 'bold' } : {}),
          ...(p.rotate ? { transform: `rotate(${p.rotate} ${r2(p.x)} ${r2(p.y)})` } : {}),
        },
        undefined,
      ];
  }
}

function dataAttrs(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) if (/^[a-z][a-z0-9-]*$/.test(k)) out[`data-${k}`] = v;
  return out;
}

/** The scene as a standalone SVG document. */
export function sceneToSvg(scene: Scene): string {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${scene.width}" height="${scene.height}" viewBox="0 0 ${scene.width} ${scene.height}" font-family="${escapeXml(scene.font)}">`,
    `<rect width="100%" height="100%" fill="${escapeXml(scene.background)}"/>`,
  ];
  for (const p of scene.prims) {
    const [tag, attrs, title] = svgAttrs(p);
    const a = Object.entries(attrs)
      .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
      .join('');
    if (p.k === 'text') parts.push(`<text${a}>${escapeXml(p.text)}</text>`);
    else if (title) parts.push(`<${tag}${a}><title>${escapeXml(title)}</title></${tag}>`);
    else parts.push(`<${tag}${a}/>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Draws the scene on a 2D canvas context (already scaled for the device pixel ratio). */
export function drawScene(ctx: CanvasRenderingContext2D, scene: Scene): void {
  ctx.save();
  ctx.fillStyle = scene.background;
  ctx.fillRect(0, 0, scene.width, scene.height);
  for (const p of scene.prims) {
    switch (p.k) {
      case 'rect':
        ctx.fillStyle = p.fill;
        ctx.fillRect(p.x, p.y, Math.max(0, p.w), Math.max(0, p.h));
        if (p.stroke) {
          ctx.strokeStyle = p.stroke;
          ctx.lineWidth = 1;
          ctx.strokeRect(p.x, p.y, p.w, p.h);
        }
        break;
      case 'line':
        ctx.strokeStyle = p.stroke;
        ctx.lineWidth = p.width ?? 1;
        ctx.setLineDash(p.dash ?? []);
        ctx.beginPath();
        ctx.moveTo(p.x1, p.y1);
        ctx.lineTo(p.x2, p.y2);
        ctx.stroke();
        break;
      case 'path': {
        ctx.strokeStyle = p.stroke;
        ctx.lineWidth = p.width ?? 1.5;
        ctx.lineJoin = 'round';
        ctx.setLineDash(p.dash ?? []);
        ctx.beginPath();
        walkPath(p.points, (x, y, draw) => (draw ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
        ctx.stroke();
        break;
      }
      case 'circle':
        ctx.fillStyle = p.fill;
        ctx.beginPath();
        ctx.arc(p.cx, p.cy, p.r, 0, Math.PI * 2);
        ctx.fill();
        if (p.stroke) {
          ctx.strokeStyle = p.stroke;
          ctx.setLineDash([]);
          ctx.lineWidth = 1;
          ctx.stroke();
        }
        break;
      case 'text':
        ctx.fillStyle = p.fill;
        ctx.font = `${p.bold ? 'bold ' : ''}${p.size ?? 11}px ${scene.font}`;
        ctx.textAlign = p.anchor === 'middle' ? 'center' : p.anchor === 'end' ? 'right' : 'left';
        ctx.textBaseline = p.baseline ?? 'alphabetic';
        if (p.rotate) {
          ctx.save();
          ctx.translate(p.x, p.y);
          ctx.rotate((p.rotate * Math.PI) / 180);
          ctx.fillText(p.text, 0, 0);
          ctx.restore();
        } else ctx.fillText(p.text, p.x, p.y);
        break;
    }
  }
  ctx.restore();
}
