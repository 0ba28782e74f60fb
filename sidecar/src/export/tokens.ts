/**
 * ONNX nodes of the token models (ViT, Mixer) with PyTorch's semantics, from state-dict tensors:
 * the patch stem as a stride-P Conv of the NHWC input, LayerNormalization, nn.Linear as MatMul
 * (weights stored transposed, [in, out]) + Add, and the exact GELU with Erf.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { attr, type OnnxGraph } from './graph';
import { stateTensor } from './stateTensor';

/** Reads state-dict tensors by key, checked against the shapes the architecture expects. */
export class StateReader {
  private readonly want: Map<string, number[]>;

  constructor(
    private readonly g: OnnxGraph,
    private readonly state: Record<string, StTensor>,
    entries: { key: string; shape: number[] }[],
  ) {
    this.want = new Map(entries.map((e) => [e.key, e.shape]));
  }

  data(key: string): Float32Array {
    return stateTensor(this.state, key, this.want.get(key)!);
  }

  shape(key: string): number[] {
    return this.want.get(key)!;
  }

  /** The tensor as an initialiser, under its state-dict name, reshaped when `dims` is given. */
  init(key: string, dims?: number[]): string {
    return this.g.initializer(key, this.data(key), dims ?? this.shape(key));
  }

  /** An nn.Linear weight [out, in] as a MatMul operand [in, out]. */
  initT(key: string): string {
    const [o, i] = this.shape(key) as [number, number];
    const w = this.data(key);
    const t = new Float32Array(w.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) t[b * o + a] = w[a * i + b]!;
    return this.g.initializer(`${key}.T`, t, [i, o]);
  }
}

/** NHWC images [N, H, W, C] → tokens [N, patches, D] through the conv `prefix` (kernel P, stride P, bias). */
export function patchEmbedNodes(g: OnnxGraph, r: StateReader, x: string, prefix: string): string {
  const [d, , p] = r.shape(`${prefix}.weight`) as [number, number, number];
  const nchw = g.node('Transpose', [x], { perm: attr.ints([0, 3, 1, 2]) });
  const conv = g.node('Conv', [nchw, r.init(`${prefix}.weight`), r.init(`${prefix}.bias`)], {
    kernel_shape: attr.ints([p, p]),
    strides: attr.ints([p, p]),
  });
  const flat = g.node('Reshape', [conv, g.int64s(`${prefix}.flat_shape`, [0, d, -1])]);
  return g.node('Transpose', [flat], { perm: attr.ints([0, 2, 1]) });
}

export function layerNormNode(g: OnnxGraph, r: StateReader, x: string, prefix: string, eps: number): string {
  return g.node('LayerNormalization', [x, r.init(`${prefix}.weight`), r.init(`${prefix}.bias`)], {
    axis: attr.int(-1),
    epsilon: attr.float(eps),
  });
}

/** nn.Linear `prefix` on the last axis. */
export function linearNode(g: OnnxGraph, r: StateReader, x: string, prefix: string, output?: string): string {
  return g.node('Add', [g.node('MatMul', [x, r.initT(`${prefix}.weight`)]), r.init(`${prefix}.bias`)], {}, output);
}

/** GELU(x) = x · ½(1 + erf(x/√2)). */
export function geluNode(g: OnnxGraph, x: string, id: string): string {
  const erf = g.node('Erf', [
    g.node('Mul', [x, g.initializer(`${id}.gelu.rsqrt2`, Float32Array.of(Math.SQRT1_2), [])]),
  ]);
  const half = g.node('Mul', [
    g.node('Add', [erf, g.initializer(`${id}.gelu.one`, Float32Array.of(1), [])]),
    g.initializer(`${id}.gelu.half`, Float32Array.of(0.5), []),
  ]);
  return g.node('Mul', [x, half]);
}

/** timm's Mlp `prefix` (fc1, GELU, fc2). */
export function mlpNodes(g: OnnxGraph, r: StateReader, x: string, prefix: string): string {
  return linearNode(g, r, geluNode(g, linearNode(g, r, x, `${prefix}.fc1`), prefix), `${prefix}.fc2`);
}
