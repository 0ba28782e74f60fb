/** Method kinds → factories. Adding a method means adding one module and one line here. */
import type { MethodKind } from '../../../core/node/experiment/schema';
import { tf, variableFrom, type Tensor1D, type Tensor2D, type Variable } from '../runtime/tf';
import { dense, variable, glorot } from '../models/layers';
import { createBTune, noLogmeSources } from './btune';
import { trainFactorAutoencoder } from './factorAutoencoder';
import { createFactorTransfer } from './factorTransfer';
import { logme } from './logme';
import { AftError } from '../../../core/common/util/errors';
import type { MethodFactory, TransferMethod } from './method';
import { rkdMethod } from './rkd';
import { aftKernelLoss, aftNoKernelLoss, kdLoss, weightBySigmoid } from './regularizers';

const stl: MethodFactory = ({ method }) => ({
  name: method.name,
  modelParams: [],
  priorParams: [],
  usesPretrained: false,
  dispose() {},
});

const kd: MethodFactory = ({ method, featureDim, psiDim, rng }) => {
  const w = variable(glorot(rng, featureDim, psiDim, [psiDim, featureDim]), [psiDim, featureDim], 'kd.w');
  const b = variable(new Float32Array(psiDim), [psiDim], 'kd.b');
  return {
    name: method.name,
    modelParams: [w, b],
    priorParams: [],
    usesPretrained: true,
    regularizer: (phi, psi) => kdLoss(phi, psi, w as Tensor2D, b as Tensor1D),
    dispose: () => [w, b].forEach((v) => v.dispose()),
  };
};

const aft: MethodFactory = ({ method, psiDim, rng }) => {
  if (method.rho === 'dense') {
    // S ∈ R^{D×D}, init randn/√D, no sigmoid (paper §5.3 ablation).
    const init = new Float32Array(psiDim * psiDim);
    for (let i = 0; i < init.length; i++) init[i] = rng.normal() / Math.sqrt(psiDim);
    const s = variable(init, [psiDim, psiDim], 'aft.S');
    const zeroBias = tf.zeros([psiDim]);
    return {
      name: method.name,
      modelParams: [],
      priorParams: [s],
      usesPretrained: true,
      regularizer: (phi, psi) => aftKernelLoss(phi, dense(psi, s, zeroBias, true), method.kernel),
      dispose: () => {
        s.dispose();
        zeroBias.dispose();
      },
    };
  }
  // s = 0 → ρ = 0.5 at the start; `identity` keeps it there (frozen).
  const s: Variable = variableFrom(
    tf.zeros([psiDim]),
    method.rho !== 'identity',
    `aft.s_${Math.random().toString(36).slice(2, 8)}`,
  );
  return {
    name: method.name,
    modelParams: [],
    priorParams: method.rho === 'identity' ? [] : [s],
    usesPretrained: true,
    regularizer: (phi, psi) => aftKernelLoss(phi, weightBySigmoid(psi, s as Tensor1D), method.kernel),
    rho: async () => {
      const r = tf.sigmoid(s);
      try {
        return (await r.data()) as Float32Array;
      } finally {
        r.dispose();
      }
    },
    dispose: () => s.dispose(),
  };
};

const aftNoKernel: MethodFactory = ({ method, featureDim, psiDim, rng }) => {
  const w = variable(glorot(rng, psiDim, featureDim, [featureDim, psiDim]), [featureDim, psiDim], 'nk.w');
  const b = variable(new Float32Array(featureDim), [featureDim], 'nk.b');
  return {
    name: method.name,
    modelParams: [],
    priorParams: [w, b],
    usesPretrained: true,
    regularizer: (phi, psi) => aftNoKernelLoss(phi, psi, w as Tensor2D, b as Tensor1D),
    dispose: () => [w, b].forEach((v) => v.dispose()),
  };
};

/**
 * B-Tuning: LogME of each source's slice of ψ and of the untrained student's features. A source
 * whose LogME cannot be computed (constant features carry no evidence) gets no weight in the
 * mixture, with the reason logged; with no source left, B-Tuning cannot run and says why.
 */
const btune: MethodFactory = async (setup) => {
  const { data, featureDim, method } = setup;
  const sources = data.shared.get(`logme-sources:${data.key}`, () =>
    data.segments.map((seg) => {
      try {
        return logme(
          sliceColumns(data.psiTrain, setup.psiDim, seg.offset, seg.width),
          data.labels,
          data.rows,
          seg.width,
          { numClasses: data.numClasses },
        );
      } catch (e) {
        if (e instanceof AftError && e.code === 'bad_input') return e;
        throw e;
      }
    }),
  );
  const failed = sources.flatMap((r, i) =>
    r instanceof AftError ? [{ source: data.segments[i].name, reason: r.message }] : [],
  );
  if (failed.length === sources.length) throw noLogmeSources(method.name, failed);
  // Said once per training set, not once per job.
  data.shared.get(`logme-sources-said:${data.key}`, () => {
    for (const f of failed)
      setup.log?.(
        `${method.name}: source ${f.source} gets no weight in B-Tuning (its LogME is not available: ${f.reason})`,
        'warn',
      );
    return true;
  });
  const student = logme(await data.initialFeatures(), data.labels, data.rows, featureDim, {
    numClasses: data.numClasses,
  });
  return createBTune(setup, {
    scores: sources.map((r) => (r instanceof AftError ? -Infinity : r.score)),
    featureDims: data.segments.map((s) => s.width),
    sourceWeights: sources.map((r, i) =>
      r instanceof AftError ? new Float64Array(data.numClasses * data.segments[i].width) : r.weights,
    ),
    studentWeights: student.weights,
    numClasses: data.numClasses,
  });
};

/**
 * Factor transfer: one autoencoder per source (as the reference code trains one per model) and
 * per training set, shared by every β and seed.
 */
const ft: MethodFactory = async (setup) => {
  const { data } = setup;
  const autoencoders = [];
  for (const seg of data.segments) {
    const features = (): Float32Array => sliceColumns(data.psiTrain, setup.psiDim, seg.offset, seg.width);
    autoencoders.push(
      await data.shared.getAsync(
        `ft-autoencoder:${data.key}:${seg.name}`,
        () => trainFactorAutoencoder(features(), data.rows, seg.width, { seed: 0 }),
        (a) => a.dispose(),
      ),
    );
  }
  return createFactorTransfer(setup, autoencoders);
};

export const METHODS: Record<MethodKind, MethodFactory> = {
  stl,
  kd,
  aft,
  'aft-no-kernel': aftNoKernel,
  rkd: rkdMethod,
  ft,
  btune,
};

/** Columns [offset, offset + width) of a row-major matrix with `width` … `dim` columns. */
function sliceColumns(m: Float32Array, dim: number, offset: number, width: number): Float32Array {
  const rows = m.length / dim;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * dim + offset, r * dim + offset + width), r * width);
  return out;
}

export async function createMethod(setup: Parameters<MethodFactory>[0]): Promise<TransferMethod> {
  return METHODS[setup.method.kind](setup);
}
