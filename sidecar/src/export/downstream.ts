/**
 * ONNX graphs of the trained downstream models (MLP, CNN), from their parameters by name.
 * Inputs keep the engine's layout: `input` is [N, ...inputShape] (images NHWC, as the dataset
 * stores them); outputs are `logits` [N, classes] and `features` [N, d] (φ, the head's input).
 *
 * The CNN runs in ONNX's NCHW: the input is transposed once, conv kernels go from HWIO to OIHW,
 * and the rows of the first dense layer are permuted from NHWC- to NCHW-flatten order instead of
 * transposing the activations back, which keeps the graph one Transpose long.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { badInput } from '../../../core/common/util/errors';
import { attr, OnnxGraph } from './graph';

export const EXPORT_PRODUCER = 'aft-studio';
/** Bump when the graph a model exports to changes (the cached teacher export is keyed by it). */
export const EXPORT_FORMAT_VERSION = 1;

export interface ExportArch {
  kind: 'mlp' | 'cnn';
  /** Shape of one input, e.g. [28, 28, 1]. */
  inputShape: number[];
  /** Conv channels (CNN only), hidden widths and classes, as in the experiment. */
  channels: number[];
  hidden: number[];
  numClasses: number;
}

function weight(weights: Record<string, StTensor>, name: string, shape: number[]): Float32Array {
  const t = weights[name];
  if (!t) throw badInput(`the checkpoint has no tensor '${name}' (it has: ${Object.keys(weights).join(', ')})`);
  if (t.shape.join('x') !== shape.join('x'))
    throw badInput(
      `tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] for this architecture`,
    );
  return t.data;
}

/** HWIO [3, 3, cin, cout] → OIHW [cout, cin, 3, 3]. */
function hwioToOihw(w: Float32Array, cin: number, cout: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let ky = 0; ky < 3; ky++)
    for (let kx = 0; kx < 3; kx++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          out[((o * cin + i) * 3 + ky) * 3 + kx] = w[((ky * 3 + kx) * cin + i) * cout + o]!;
  return out;
}

/** Rows of [h*w*c, out] from NHWC-flatten order to NCHW-flatten order. */
function nhwcRowsToNchw(w: Float32Array, h: number, wd: number, c: number, out: number): Float32Array {
  const res = new Float32Array(w.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < wd; x++)
      for (let ch = 0; ch < c; ch++) {
        const src = ((y * wd + x) * c + ch) * out;
        res.set(w.subarray(src, src + out), ((ch * h + y) * wd + x) * out);
      }
  return res;
}

export function parameterCount(weights: Record<string, StTensor>): number {
  return Object.values(weights).reduce((a, t) => a + t.data.length, 0);
}

/** Builds the graph; shapes are checked against the architecture, naming the tensor. */
export function downstreamGraph(weights: Record<string, StTensor>, arch: ExportArch): OnnxGraph {
  const g = new OnnxGraph(`aft-${arch.kind}`);
  let x = g.input('input', ['N', ...arch.inputShape]);
  let width = arch.inputShape.reduce((a, b) => a * b, 1);
  let fc0Rows: ((w: Float32Array, out: number) => Float32Array) | undefined;
  if (arch.kind === 'cnn') {
    if (arch.inputShape.length !== 3)
      throw badInput(`the cnn needs inputs [H, W, C], got [${arch.inputShape.join(', ')}]`);
    let [h, w, c] = arch.inputShape as [number, number, number];
    x = g.node('Transpose', [x], { perm: attr.ints([0, 3, 1, 2]) });
    arch.channels.forEach((cout, i) => {
      const k = g.initializer(`conv${i}.w`, hwioToOihw(weight(weights, `conv${i}.w`, [3, 3, c, cout]), c, cout), [
        cout,
        c,
        3,
        3,
      ]);
      const b = g.initializer(`conv${i}.b`, weight(weights, `conv${i}.b`, [cout]), [cout]);
      x = g.node('Conv', [x, k, b], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) });
      x = g.node('Relu', [x]);
      x = g.node('MaxPool', [x], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
      c = cout;
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    });
    const [fh, fw, fc] = [h, w, c];
    fc0Rows = (wt, out) => nhwcRowsToNchw(wt, fh, fw, fc, out);
    width = h * w * c;
  }
  x = g.node('Flatten', [x], { axis: attr.int(1) });
  arch.hidden.forEach((out, i) => {
    let wt = weight(weights, `fc${i}.w`, [width, out]);
    if (i === 0 && fc0Rows) wt = fc0Rows(wt, out);
    const wn = g.initializer(`fc${i}.w`, wt, [width, out]);
    const bn = g.initializer(`fc${i}.b`, weight(weights, `fc${i}.b`, [out]), [out]);
    x = g.node('Relu', [g.node('Gemm', [x, wn, bn])], {}, i === arch.hidden.length - 1 ? 'features' : undefined);
    width = out;
  });
  if (arch.hidden.length === 0) x = g.node('Identity', [x], {}, 'features');
  const hw = g.initializer('head.w', weight(weights, 'head.w', [width, arch.numClasses]), [width, arch.numClasses]);
  const hb = g.initializer('head.b', weight(weights, 'head.b', [arch.numClasses]), [arch.numClasses]);
  g.node('Gemm', [x, hw, hb], {}, 'logits');
  g.output('logits', ['N', arch.numClasses]);
  g.output('features', ['N', width]);
  return g;
}

/** The model file's bytes. */
export function exportDownstream(
  weights: Record<string, StTensor>,
  arch: ExportArch,
  props: Record<string, string> = {},
): Uint8Array {
  return downstreamGraph(weights, arch).encode({
    producer: EXPORT_PRODUCER,
    version: String(EXPORT_FORMAT_VERSION),
    doc: `AFT Studio ${arch.kind}: input [N, ${arch.inputShape.join(', ')}] (images NHWC, values as the dataset gives them); outputs logits and features (φ).`,
    props: { ...props, input_shape: JSON.stringify(arch.inputShape), kind: arch.kind },
  });
}
