import type { MethodKind } from '../../core/node/experiment/schema';
import { SharedMethodState, type MethodSetup } from '../../sidecar/src/methods/method';
import { Rng } from '../../sidecar/src/util/rng';

/** A MethodSetup for unit tests that exercise a method without a training set. */
export function testSetup(kind: MethodKind, featureDim: number, psiDim: number, rng = new Rng(1)): MethodSetup {
  return {
    method: { name: kind, kind, kernel: 'linear', rho: 'sigmoid', priorSteps: 1 },
    featureDim,
    psiDim,
    rng,
    seed: 0,
    data: {
      key: 'test',
      rows: 0,
      psiTrain: new Float32Array(),
      segments: [{ name: 'psi', offset: 0, width: psiDim }],
      labels: new Int32Array(),
      numClasses: 2,
      initialFeatures: () => Promise.resolve(new Float32Array()),
      shared: new SharedMethodState(),
    },
  };
}
