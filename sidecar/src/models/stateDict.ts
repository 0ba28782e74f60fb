/**
 * A student's variables made from a PyTorch state dict and read back into one: convolution
 * kernels are OIHW there and HWIO here (converted both ways); everything else keeps its shape.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { tf, variableFrom, type Variable } from '../runtime/tf';
import type { Rng } from '../util/rng';
import type { StateEntry } from '../../../core/node/students/family';

/** OIHW [o, i, kh, kw] → HWIO [kh, kw, i, o]. */
export function oihwToHwio(t: StTensor): { data: Float32Array; shape: number[] } {
  const [o, i, kh, kw] = t.shape as [number, number, number, number];
  const out = new Float32Array(t.data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = t.data[((a * i + b) * kh + y) * kw + x]!;
  return { data: out, shape: [kh, kw, i, o] };
}

/** HWIO [kh, kw, i, o] → OIHW [o, i, kh, kw]. */
export function hwioToOihw(data: Float32Array, shape: number[]): StTensor {
  const [kh, kw, i, o] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let b = 0; b < i; b++)
        for (let a = 0; a < o; a++) out[((a * i + b) * kh + y) * kw + x] = data[((y * kw + x) * i + b) * o + a]!;
  return { shape: [o, i, kh, kw], data: out };
}

/** A truncated normal N(0, std²) cut at ±2 std (timm's trunc_normal_), by resampling. */
export function truncNormal(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let z = rng.normal();
    while (Math.abs(z) > 2) z = rng.normal();
    out[i] = z * std;
  }
  return out;
}

/** A state dict with each entry made by `init` (in the entries' order, so one seeded stream gives one state). */
export function initState(
  entries: StateEntry[],
  init: (e: StateEntry, n: number) => Float32Array,
): Record<string, StTensor> {
  const out: Record<string, StTensor> = {};
  for (const e of entries)
    out[e.key] = {
      shape: e.shape,
      data: init(
        e,
        e.shape.reduce((a, b) => a * b, 1),
      ),
    };
  return out;
}

export interface StateVariables {
  params: Map<string, Variable>;
  buffers: Map<string, Variable>;
  /** The state dict in PyTorch's layout (int64 counters), read asynchronously as webgpu needs. */
  read: () => Promise<Record<string, StTensor>>;
  /** Frees every variable. */
  dispose: () => void;
}

/** Variables for `entries` from `state` (checked against them); `convs` are the keys of OIHW kernels. */
export function stateVariables(
  entries: StateEntry[],
  state: Record<string, StTensor>,
  convs: ReadonlySet<string>,
): StateVariables {
  const params = new Map<string, Variable>();
  const buffers = new Map<string, Variable>();
  for (const e of entries) {
    const t = state[e.key];
    const v = convs.has(e.key) ? oihwToHwio(t) : { data: t ? t.data : new Float32Array(1), shape: e.shape };
    const trainable = e.kind === 'param';
    const variable = variableFrom(
      tf.tensor(v.data, v.shape),
      trainable,
      `${e.key}_${Math.random().toString(36).slice(2, 8)}`,
    );
    (trainable ? params : buffers).set(e.key, variable);
  }
  return {
    params,
    buffers,
    dispose: () => {
      for (const v of [...params.values(), ...buffers.values()]) v.dispose();
    },
    read: async () => {
      const out: Record<string, StTensor> = {};
      for (const e of entries) {
        const v = params.get(e.key) ?? buffers.get(e.key)!;
        const data = (await v.data()) as Float32Array;
        if (convs.has(e.key)) out[e.key] = hwioToOihw(data, v.shape);
        else
          out[e.key] = {
            shape: e.shape,
            data: Float32Array.from(data),
            ...(e.kind === 'counter' ? { dtype: 'I64' as const } : {}),
          };
      }
      return out;
    },
  };
}
