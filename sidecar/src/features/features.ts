import type { Segment } from '../../../core/common/protocol/events';

/** One frozen feature source, row-aligned with the dataset's splits. */
export interface FeatureBlock {
  name: string;
  kind: 'builtin' | 'noise' | 'precomputed' | 'onnx' | 'product';
  width: number;
  /** nTrain × width, row-major. */
  train: Float32Array;
  /** nTest × width, row-major. */
  test: Float32Array;
}

/** The concatenation ψ of all sources, with each source's segment kept for ρ plots. */
export interface PretrainedFeatures {
  segments: Segment[];
  width: number;
  train: Float32Array;
  test: Float32Array;
}

function concatRows(
  blocks: FeatureBlock[],
  pick: (b: FeatureBlock) => Float32Array,
  n: number,
  width: number,
): Float32Array {
  const out = new Float32Array(n * width);
  let offset = 0;
  for (const b of blocks) {
    const src = pick(b);
    for (let r = 0; r < n; r++) out.set(src.subarray(r * b.width, (r + 1) * b.width), r * width + offset);
    offset += b.width;
  }
  return out;
}

export function concatFeatures(blocks: FeatureBlock[], nTrain: number, nTest: number): PretrainedFeatures {
  const segments: Segment[] = [];
  let width = 0;
  for (const b of blocks) {
    segments.push({ name: b.name, offset: width, width: b.width });
    width += b.width;
  }
  return {
    segments,
    width,
    train: concatRows(blocks, (b) => b.train, nTrain, width),
    test: concatRows(blocks, (b) => b.test, nTest, width),
  };
}

/** Mean, min and max of ρ over each segment. */
export function summariseBySegment(
  values: ArrayLike<number>,
  segments: Segment[],
): Record<string, { mean: number; min: number; max: number }> {
  const out: Record<string, { mean: number; min: number; max: number }> = {};
  for (const s of segments) {
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = s.offset; i < s.offset + s.width; i++) {
      const v = values[i];
      sum += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    out[s.name] = { mean: sum / s.width, min, max };
  }
  return out;
}
