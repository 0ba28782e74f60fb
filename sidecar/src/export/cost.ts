/**
 * Inference cost in onnxruntime, for the paper's table: parameters and milliseconds per example
 * of a model file, timed on real prepared batches after a warm-up run.
 */
import * as fs from 'node:fs';
import type { OnnxSession, OnnxTensor } from '../runtime/onnx';
import { decodeModel } from './proto';

/** Models larger than this are not decoded just to count their parameters. */
const MAX_DECODE_BYTES = 1 << 30;

/** Number of values in the model's initialisers, or null when the file is too large to decode here. */
export function onnxParameterCount(file: string): number | null {
  if (fs.statSync(file).size > MAX_DECODE_BYTES) return null;
  const m = decodeModel(fs.readFileSync(file)) as { graph?: { initializer?: { dims?: number[] }[] } };
  return (m.graph?.initializer ?? []).reduce((a, t) => a + (t.dims ?? []).reduce((x, d) => x * d, 1), 0);
}

/** Median milliseconds per example of `session.run` on `feeds` (`rows` examples). */
export async function msPerExample(
  session: OnnxSession,
  feeds: Record<string, OnnxTensor>,
  rows: number,
  output: string,
  repeats = 5,
): Promise<number> {
  await session.run(feeds, [output]);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await session.run(feeds, [output]);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] / rows;
}
