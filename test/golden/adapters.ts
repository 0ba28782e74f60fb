/**
 * How each golden case's method is computed with the product's own regularisers. A method with
 * no adapter is reported as not implemented by the golden test (never skipped silently).
 */
import { btuneLoss, btuneTarget, mixedProjection } from '../../sidecar/src/methods/btune';
import { logme } from '../../sidecar/src/methods/logme';
import { aftKernelLoss, aftNoKernelLoss, kdLoss, weightBySigmoid, type KernelKind } from '../../sidecar/src/methods/regularizers';
import { rkdLoss } from '../../sidecar/src/methods/rkd';
import { tf, type Scalar, type Tensor, type Tensor1D, type Tensor2D } from '../../sidecar/src/runtime/tf';

export interface GoldenCase {
  method: string;
  kernel?: string;
  rho?: string;
  temperature?: number;
  inputs: Record<string, number[] | number[][] | number[][][]>;
  expected: { loss?: number; score?: number; grad?: Record<string, unknown>; weights?: unknown };
}

export interface GoldenResult {
  /** Scalar outputs by name (`loss`, `score`). */
  values: Record<string, number>;
  /** Array outputs by name (gradients as `grad.<input>`, or `weights`). */
  arrays: Record<string, Float64Array>;
}

export type Adapter = (c: GoldenCase) => GoldenResult | Promise<GoldenResult>;

const t2 = (v: unknown): Tensor2D => tf.tensor2d(v as number[][]);
const t1 = (v: unknown): Tensor1D => tf.tensor1d(v as number[]);

/** Loss and gradients of `f` with respect to the named inputs (read with data(): webgpu has no dataSync in Node). */
async function lossAndGrads(names: string[], inputs: Tensor[], f: (...xs: Tensor[]) => Scalar): Promise<GoldenResult> {
  const arrays: Record<string, Float64Array> = {};
  const { value, grads } = tf.tidy(() => tf.valueAndGrads((...xs: Tensor[]) => f(...xs))(inputs));
  try {
    for (const [i, n] of names.entries()) arrays[`grad.${n}`] = Float64Array.from(await grads[i].data());
    return { values: { loss: (await value.data())[0] }, arrays };
  } finally {
    tf.dispose([value, ...grads, ...inputs]);
  }
}

export const ADAPTERS: Record<string, Adapter> = {
  aft: (c) => {
    const kernel = (c.kernel ?? 'linear') as KernelKind;
    const phi = t2(c.inputs.student);
    const psi = t2(c.inputs.pretrained);
    if (c.rho === 'dense') {
      return lossAndGrads(['student', 'S'], [phi, t2(c.inputs.S)], (p, s) => aftKernelLoss(p as Tensor2D, tf.matMul(psi, s), kernel));
    }
    return lossAndGrads(['student', 's'], [phi, t1(c.inputs.s)], (p, s) => aftKernelLoss(p as Tensor2D, weightBySigmoid(psi, s as Tensor1D), kernel));
  },
  'aft-no-kernel': (c) => {
    const psi = t2(c.inputs.pretrained);
    return lossAndGrads(['student', 'W', 'b'], [t2(c.inputs.student), t2(c.inputs.W), t1(c.inputs.b)], (p, w, b) =>
      aftNoKernelLoss(p as Tensor2D, psi, w as Tensor2D, b as Tensor1D),
    );
  },
  kd: (c) => {
    const psi = t2(c.inputs.pretrained);
    return lossAndGrads(['student', 'W', 'b'], [t2(c.inputs.student), t2(c.inputs.W), t1(c.inputs.b)], (p, w, b) =>
      kdLoss(p as Tensor2D, psi, w as Tensor2D, b as Tensor1D),
    );
  },
  rkd: (c) => {
    const psi = t2(c.inputs.pretrained);
    return lossAndGrads(['student'], [t2(c.inputs.student)], (p) => rkdLoss(p as Tensor2D, psi));
  },
  btune: (c) => {
    const sourceWeights = (c.inputs.logme_weights as number[][][]).map((w) => w.flat());
    const studentW = c.inputs.student_logme_weights as number[][];
    const { matrix, psiDim } = mixedProjection({
      scores: c.inputs.logme_scores as number[],
      featureDims: c.inputs.feature_dims as number[],
      sourceWeights,
      studentWeights: studentW.flat(),
      numClasses: studentW.length,
      temperature: c.temperature,
    });
    const mixed = tf.tensor2d(matrix, [psiDim, studentW.length]);
    const target = btuneTarget(t2(c.inputs.pretrained), mixed);
    const wd = t2(studentW);
    return lossAndGrads(['student'], [t2(c.inputs.student)], (p) => btuneLoss(p as Tensor2D, wd, target));
  },
  logme: (c) => {
    const features = c.inputs.features as number[][];
    const r = logme(features.flat(), c.inputs.labels as number[], features.length, features[0]?.length ?? 0);
    return { values: { score: r.score }, arrays: { weights: r.weights } };
  },
};
