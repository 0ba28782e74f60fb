/**
 * Adam and SGD-with-momentum over parameter groups, each with its own learning rate and
 * weight decay, and a schedule that scales every group. Written on tf ops rather than
 * tf.train so that per-group learning rates can change every step (tfjs's SGD/momentum bake
 * the rate into a constant at construction).
 */
import { tf, type Tensor, type Variable } from '../runtime/tf';

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

export class Optimizer {
  private readonly m = new Map<Variable, Variable>();
  private readonly v = new Map<Variable, Variable>();
  /**
   * Updates each parameter has had, for Adam's bias correction: per parameter, as PyTorch keeps
   * it, because a bi-level step updates only some of them.
   */
  private readonly t = new Map<Variable, number>();

  constructor(
    private readonly kind: OptimizerKind,
    readonly groups: ParamGroup[],
  ) {
    for (const g of groups) {
      for (const p of g.params) {
        this.m.set(p, tf.variable(tf.zerosLike(p), false));
        if (kind === 'adam') this.v.set(p, tf.variable(tf.zerosLike(p), false));
      }
    }
  }

  /** Applies one update; `factor` scales every group's learning rate (the schedule). */
  apply(grads: Map<Variable, Tensor>, factor: number): void {
    const b1 = 0.9;
    const b2 = 0.999;
    tf.tidy(() => {
      for (const g of this.groups) {
        const lr = g.lr * factor;
        for (const p of g.params) {
          const grad = grads.get(p);
          if (!grad) continue;
          const t = (this.t.get(p) ?? 0) + 1;
          this.t.set(p, t);
          const [c1, c2] = [1 - b1 ** t, 1 - b2 ** t];
          const m = this.m.get(p)!;
          let update: Tensor;
          if (this.kind === 'adam') {
            const v = this.v.get(p)!;
            m.assign(tf.add(tf.mul(m, b1), tf.mul(grad, 1 - b1)));
            v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(grad), 1 - b2)));
            update = tf.div(tf.mul(m, lr / c1), tf.add(tf.sqrt(tf.div(v, c2)), 1e-8));
          } else {
            m.assign(tf.add(tf.mul(m, 0.9), grad));
            update = tf.mul(m, lr);
          }
          if (g.weightDecay > 0) update = tf.add(update, tf.mul(p, lr * g.weightDecay));
          p.assign(tf.sub(p, update));
        }
      }
    });
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
