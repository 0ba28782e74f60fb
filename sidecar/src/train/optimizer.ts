/**
 * Adam and SGD-with-momentum over parameter groups, each with its own learning rate and
 * weight decay, and a schedule that scales every group. Written on tf ops rather than
 * tf.train so that per-group learning rates can change every step (tfjs's SGD/momentum bake
 * the rate into a constant at construction).
 */
import { ADAM, fusedKernelsReady, type AdamAttrs } from '../runtime/fusedKernels';
import { tf, variableFrom, type Tensor, type Variable } from '../runtime/tf';

export interface ParamGroup {
  params: Variable[];
  lr: number;
  /** Decoupled weight decay (AdamW-style); 0 for none. */
  weightDecay: number;
}

export type OptimizerKind = 'adam' | 'sgd';

/** Multiplier of the base learning rate at `step` of `total` (cosine decays to 0). */
export function scheduleFactor(kind: 'cosine' | 'constant', step: number, total: number): number {
  if (kind === 'constant' || total <= 1) return 1;
  return 0.5 * (1 + Math.cos((Math.PI * Math.min(step, total)) / total));
}

/**
 * The optimiser state of a run of a group's parameters: m (and v for Adam) end to end in one flat
 * variable, so a step updates them with one chain of kernels instead of one per parameter: about
 * 13 + 2n kernels for n parameters where the per-parameter form took 13n (the demo MLP's six
 * parameters: 25 instead of 78, and on wasm each kernel costs tens of µs of JavaScript whatever
 * its size). Elementwise, the arithmetic is the per-parameter form's, in the same order.
 */
interface GroupState {
  group: ParamGroup;
  /** The parameters of this run (at most CHUNK elements together, or one larger parameter). */
  params: Variable[];
  /** Offset of each parameter in the flat state. */
  offsets: number[];
  sizes: number[];
  m: Variable;
  v?: Variable;
}

/**
 * Parameters fused into one flat update hold at most this many elements together: the kernel
 * count matters for many small parameters, and a flat update's temporaries (about six of its
 * size alive at once) must not grow with the model (a ResNet-18's 11M parameters whole raised the
 * step's peak RSS by ~300 MB).
 */
const CHUNK = 1 << 20;

/** A group's parameters in runs of at most `chunk` elements (a larger parameter alone). */
function chunks(params: Variable[], chunk: number): Variable[][] {
  const out: Variable[][] = [];
  let size = 0;
  for (const p of params) {
    if (!out.length || size + p.size > chunk) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1].push(p);
    size += p.size;
  }
  return out;
}

/** Adam's β₁, β₂ and ε (PyTorch's defaults), for the ops and the fused kernel alike. */
const ADAM_CONSTANTS = { b1: 0.9, b2: 0.999, eps: 1e-8 } as const;

export class Optimizer {
  private readonly states: GroupState[];
  /**
   * Updates each parameter has had, for Adam's bias correction: per parameter, as PyTorch keeps
   * it, because a bi-level step updates only some of them.
   */
  private readonly t = new Map<Variable, number>();

  constructor(
    private readonly kind: OptimizerKind,
    readonly groups: ParamGroup[],
    /** Elements fused into one flat update at most (tests set it small). */
    chunk = CHUNK,
  ) {
    this.states = groups
      .flatMap((group) => chunks(group.params, chunk).map((params) => ({ group, params })))
      .map(({ group, params }) => {
        const sizes = params.map((p) => p.size);
        const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
        const total = sizes.reduce((a, b) => a + b, 0);
        return {
          group,
          params,
          offsets,
          sizes,
          m: variableFrom(tf.zeros([total]), false),
          ...(kind === 'adam' ? { v: variableFrom(tf.zeros([total]), false) } : {}),
        };
      });
  }

  /** Applies one update; `factor` scales every group's learning rate (the schedule). */
  apply(grads: Map<Variable, Tensor>, factor: number): void {
    tf.tidy(() => {
      for (const s of this.states) {
        const { params } = s;
        const ts = params.map((p) => (grads.get(p) ? (this.t.get(p) ?? 0) + 1 : undefined));
        params.forEach((p, i) => ts[i] !== undefined && this.t.set(p, ts[i]));
        if (ts.every((t) => t === ts[0] && t !== undefined)) this.stepWhole(s, grads, ts[0]!, factor);
        else this.stepEach(s, grads, ts, factor);
      }
    });
  }

  /** m', v' and the update of flat tensors (the per-parameter arithmetic, elementwise). */
  private update(
    m: Tensor,
    v: Tensor | undefined,
    grad: Tensor,
    t: number,
    lr: number,
  ): { m: Tensor; v?: Tensor; update: Tensor } {
    const { b1, b2, eps } = ADAM_CONSTANTS;
    if (this.kind !== 'adam' || !v) {
      const m2 = tf.add(tf.mul(m, 0.9), grad);
      return { m: m2, update: tf.mul(m2, lr) };
    }
    const [c1, c2] = [1 - b1 ** t, 1 - b2 ** t];
    const m2 = tf.add(tf.mul(m, b1), tf.mul(grad, 1 - b1));
    const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(grad), 1 - b2));
    return { m: m2, v: v2, update: tf.div(tf.mul(m2, lr / c1), tf.add(tf.sqrt(tf.div(v2, c2)), eps)) };
  }

  /** Every parameter of the group has a gradient and the same step count: one flat update. */
  private stepWhole(s: GroupState, grads: Map<Variable, Tensor>, t: number, factor: number): void {
    const { params } = s;
    const { lr: baseLr, weightDecay } = s.group;
    const lr = baseLr * factor;
    if (this.kind === 'adam' && s.v && fusedKernelsReady(tf)) {
      this.stepFused(s, grads, t, lr, weightDecay);
      return;
    }
    const flat = (ts: Tensor[]): Tensor =>
      ts.length === 1 ? tf.reshape(ts[0], [-1]) : tf.concat(ts.map((x) => tf.reshape(x, [-1])));
    const r = this.update(s.m, s.v, flat(params.map((p) => grads.get(p)!)), t, lr);
    let update = r.update;
    if (weightDecay > 0) update = tf.add(update, tf.mul(flat(params), lr * weightDecay));
    s.m.assign(r.m);
    if (s.v && r.v) s.v.assign(r.v);
    params.forEach((p, i) => {
      const u = params.length === 1 ? update : tf.slice(update, s.offsets[i], s.sizes[i]);
      p.assign(tf.sub(p, tf.reshape(u, p.shape)));
    });
  }

  /**
   * stepWhole's Adam as one fused kernel (runtime/fusedKernels.ts): one pass over each parameter,
   * its gradient and its slice of m and v, where the ops made ~15 (12.5M parameters of a
   * ResNet-18's shapes: 68 → 16.5 ms a step on wasm). The same float32 arithmetic in the same
   * order as `update`, so the same numbers (optimizer.test.ts).
   */
  private stepFused(s: GroupState, grads: Map<Variable, Tensor>, t: number, lr: number, weightDecay: number): void {
    const { params } = s;
    const { b1, b2, eps } = ADAM_CONSTANTS;
    const inputs: Record<string, Tensor> = { m: s.m, v: s.v! };
    params.forEach((p, i) => {
      inputs[`g${i}`] = grads.get(p)!;
      inputs[`p${i}`] = p;
    });
    const attrs: AdamAttrs = {
      count: params.length,
      b1,
      nb1: 1 - b1,
      b2,
      nb2: 1 - b2,
      c2: 1 - b2 ** t,
      step: lr / (1 - b1 ** t),
      eps,
      lrwd: weightDecay > 0 ? lr * weightDecay : 0,
    };
    const [m2, v2, ...ps] = tf.engine().runKernel<Tensor[]>(ADAM, inputs, attrs as unknown as Record<string, number>);
    s.m.assign(m2);
    s.v!.assign(v2);
    params.forEach((p, i) => p.assign(ps[i]));
  }

  /** Some parameters without a gradient (left as they are) or with different step counts. */
  private stepEach(s: GroupState, grads: Map<Variable, Tensor>, ts: (number | undefined)[], factor: number): void {
    const { params } = s;
    const { lr: baseLr, weightDecay } = s.group;
    const lr = baseLr * factor;
    const ms: Tensor[] = [];
    const vs: Tensor[] = [];
    params.forEach((p, i) => {
      const m = tf.slice(s.m, s.offsets[i], s.sizes[i]);
      const v = s.v ? tf.slice(s.v, s.offsets[i], s.sizes[i]) : undefined;
      const grad = grads.get(p);
      const t = ts[i];
      if (!grad || t === undefined) {
        ms.push(m);
        if (v) vs.push(v);
        return;
      }
      const r = this.update(m, v, tf.reshape(grad, [-1]), t, lr);
      let update = r.update;
      if (weightDecay > 0) update = tf.add(update, tf.mul(tf.reshape(p, [-1]), lr * weightDecay));
      ms.push(r.m);
      if (r.v) vs.push(r.v);
      p.assign(tf.sub(p, tf.reshape(update, p.shape)));
    });
    s.m.assign(tf.concat(ms));
    if (s.v) s.v.assign(tf.concat(vs));
  }

  dispose(): void {
    for (const s of this.states) {
      s.m.dispose();
      s.v?.dispose();
    }
  }
}
