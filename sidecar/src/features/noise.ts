import { Rng, seedFor } from '../util/rng';
import type { FeatureBlock } from './features';

/**
 * i.i.d. N(0,1) features (paper §5.2): a source that carries no information about the task,
 * so a good transfer method should learn to ignore it. Fixed by the source's name and the
 * dataset's split seed, so every method and seed sees the same noise for the same example.
 */
export function noiseFeatures(
  name: string,
  width: number,
  nTrain: number,
  nTest: number,
  splitSeed: number,
): FeatureBlock {
  const rng = new Rng(seedFor(splitSeed, `noise:${name}`));
  const fill = (n: number): Float32Array => {
    const a = new Float32Array(n * width);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal();
    return a;
  };
  const train = fill(nTrain);
  const test = fill(nTest);
  return { name, kind: 'noise', width, train, test };
}
