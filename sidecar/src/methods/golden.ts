/**
 * The golden cases (test/golden/cases: float64 PyTorch values of the paper's formulas) computed
 * with the product's own regularisers, and compared: one module for the golden test
 * (test/golden/golden.test.ts) and the GPU check (bench/gpuCheck.ts), so both judge the same
 * computation by the same tolerances. A method with no adapter is reported as not implemented
 * (never skipped silently).
 */
import { btuneLoss, btuneTarget, mixedProjection } from './btune';
import { encodeWith } from './factorAutoencoder';
import { factorTransferRegularizer, type SourceEncoder } from './factorTransfer';
import { logme } from './logme';
import { rawLogisticProbe } from './probe';
import { aftKernelLoss, aftNoKernelLoss, kdLoss, weightBySigmoid, type KernelKind } from './regularizers';
import { rkdLoss } from './rkd';
import { tf, type Scalar, type Tensor, type Tensor1D, type Tensor2D } from '../runtime/tf';

export interface GoldenCase {
  method: string;
  kernel?: string;
  rho?: string;
  temperature?: number;
  /** Inverse penalty of `logreg` (scikit-learn's C). */
  C?: number;
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
      return lossAndGrads(['student', 'S'], [phi, t2(c.inputs.S)], (p, s) =>
        aftKernelLoss(p as Tensor2D, tf.matMul(psi, s), kernel),
      );
    }
    return lossAndGrads(['student', 's'], [phi, t1(c.inputs.s)], (p, s) =>
      aftKernelLoss(p as Tensor2D, weightBySigmoid(psi, s as Tensor1D), kernel),
    );
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
  ft: (c) => {
    type Layers = [number[][], number[]][];
    const psi = t2(c.inputs.pretrained);
    const dims = c.inputs.feature_dims as number[];
    let offset = 0;
    const sources = (c.inputs.encoders as unknown as Layers[]).map((enc, i): SourceEncoder => {
      const layers = enc.map(([w, b]) => ({ w: t2(w), b: t1(b) }));
      const segment = { name: `source${i}`, offset, width: dims[i] };
      offset += dims[i];
      return { segment, encode: (x) => encodeWith(layers, x) };
    });
    const translator = (c.inputs.translator as unknown as Layers).flatMap(([w, b]) => [t2(w), t1(b)]);
    const names = ['student', ...translator.map((_, i) => `translator${i >> 1}_${i % 2 ? 'b' : 'w'}`)];
    return lossAndGrads(names, [t2(c.inputs.student), ...translator], (phi, ...weights) => {
      const layers = weights.flatMap((w, i) => (i % 2 ? [] : [{ w, b: weights[i + 1] }]));
      return factorTransferRegularizer(layers, sources)(phi as Tensor2D, psi);
    });
  },
  logreg: async (c) => {
    const data = (features: unknown, labels: unknown) => {
      const rows = features as number[][];
      return { features: rows.flat(), labels: labels as number[], rows: rows.length };
    };
    const train = data(c.inputs.train_features, c.inputs.train_labels);
    const dim = (c.inputs.train_features as number[][])[0].length;
    const r = await rawLogisticProbe(train, data(c.inputs.test_features, c.inputs.test_labels), dim, {
      ...(c.C !== undefined ? { C: c.C } : {}),
    });
    // θ is W (dim×K) then b; the case's weights are scikit-learn's [coef_ | intercept_], K×(dim+1).
    const k = r.theta.length / (dim + 1);
    const weights = new Float64Array(k * (dim + 1));
    for (let c2 = 0; c2 < k; c2++) {
      for (let j = 0; j < dim; j++) weights[c2 * (dim + 1) + j] = r.theta[j * k + c2];
      weights[c2 * (dim + 1) + dim] = r.theta[dim * k + c2];
    }
    return { values: { score: r.testAccuracy }, arrays: { weights } };
  },
  logme: (c) => {
    const features = c.inputs.features as number[][];
    const r = logme(features.flat(), c.inputs.labels as number[], features.length, features[0]?.length ?? 0);
    return { values: { score: r.score }, arrays: { weights: r.weights } };
  },
};

/** Allowed relative errors: on a loss or score, and on gradients and weights (relative to the array's largest entry). */
export const GOLDEN_TOLERANCE = { scalar: 1e-4, array: 1e-3 } as const;

export function flatten(v: unknown): number[] {
  return Array.isArray(v) ? (v as unknown[]).flatMap(flatten) : [v as number];
}

/**
 * The worst relative error of an array and where: entries are compared relative to the array's
 * own scale; a gradient that is zero in theory (scale ~1e-17) against an absolute floor of
 * float32 round-off (1e-4).
 */
export function worstArrayError(got: Float64Array, want: number[]): { error: number; at: number } {
  const scale = Math.max(...want.map(Math.abs));
  let error = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(scale, 1e-4);
    if (err > error) {
      error = err;
      at = i;
    }
  }
  return { error, at };
}

export interface GoldenComparison {
  /** The worst relative error of each output (`loss`, `score`, `grad.<input>`, `weights`). */
  errors: Record<string, number>;
  /** What exceeds its tolerance or was not computed, one line each; empty when the case passes. */
  failures: string[];
}

/** A case's result against its expected values, with the tolerances above. */
export function compareGolden(c: GoldenCase, r: GoldenResult): GoldenComparison {
  const errors: Record<string, number> = {};
  const failures: string[] = [];
  for (const key of ['loss', 'score'] as const) {
    const want = c.expected[key];
    if (want === undefined) continue;
    const got = r.values[key];
    if (got === undefined) {
      failures.push(`${key} not computed`);
      continue;
    }
    const rel = Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);
    errors[key] = rel;
    if (!(rel <= GOLDEN_TOLERANCE.scalar))
      failures.push(`${key}: got ${got}, expected ${want} (relative error ${rel.toExponential(2)})`);
  }
  const arrays: [string, unknown][] = [
    ...Object.entries(c.expected.grad ?? {}).map(([n, v]): [string, unknown] => [`grad.${n}`, v]),
    ...(c.expected.weights !== undefined ? [['weights', c.expected.weights] as [string, unknown]] : []),
  ];
  for (const [name, wantNested] of arrays) {
    const got = r.arrays[name];
    const want = flatten(wantNested);
    if (!got) {
      failures.push(`${name === 'weights' ? 'weights' : `gradient of ${name.slice(5)}`} not computed`);
      continue;
    }
    if (got.length !== want.length) {
      failures.push(`${name}: ${got.length} values, expected ${want.length}`);
      continue;
    }
    const { error, at } = worstArrayError(got, want);
    errors[name] = error;
    if (!(error <= GOLDEN_TOLERANCE.array))
      failures.push(
        `${name}: relative error ${error.toExponential(2)} at index ${at} (got ${got[at]}, expected ${want[at]}) exceeds ${GOLDEN_TOLERANCE.array}`,
      );
  }
  return { errors, failures };
}

/** A case as the tests and the GPU check name it: `aft-linear-0.json (aft, kernel linear)`. */
export function goldenLabel(file: string, c: GoldenCase): string {
  return `${file} (${c.method}${c.kernel ? `, kernel ${c.kernel}` : ''}${c.rho ? `, rho ${c.rho}` : ''})`;
}
