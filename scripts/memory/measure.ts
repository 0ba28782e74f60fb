/**
 * Measures the memory of real training jobs of pretrained students (the product's trainJob: AFT
 * with ψ of 512 noise features, Adam, two steps, then the final evaluation over one evaluation
 * chunk) and records them in test/fixtures/memory/measured.json, the figures the estimate
 * (sidecar/src/memory/) is tested against. Each case runs in a process of its own, because peaks
 * only grow: the tensors' peak (tf.profile), the wasm module's heap (it grows and never shrinks,
 * so its size at the end is its peak) and the peak resident memory.
 *
 *   node --import tsx scripts/memory/measure.ts [NAME...]    (NAME: only those cases)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { downstreamSchema } from '../../core/node/experiment/schema';
import { writeFileAtomic } from '../../core/node/util/fsx';
import { MEASURE_CASES, type MeasureCase, type MeasuredCase } from '../../sidecar/src/bench/memoryCases';

const OUT = path.join(__dirname, '..', '..', 'test', 'fixtures', 'memory', 'measured.json');

async function child(c: MeasureCase): Promise<MeasuredCase> {
  const { initBackend, tf } = await import('../../sidecar/src/runtime/tf');
  const { firstRows, randomImageData, randomTokenData, timeJob, STEP_METHODS } =
    await import('../../sidecar/src/bench/steps');
  const { evalChunk } = await import('../../sidecar/src/train/evaluate');
  const { caseFolder, caseInput, caseStudent } = await import('../../sidecar/src/bench/memoryCases');
  await initBackend(c.backend);
  // The memory object itself: the threaded build's heap views are refreshed lazily after growth.
  // (the one-thread build, which the wasm backend runs when its products are on onnxruntime, has
  // no `wasmMemory`: its HEAPU8's buffer is the memory's, refreshed on growth).
  const heap = (): number | undefined => {
    const wasm = (tf.backend() as unknown as { wasm?: { wasmMemory?: WebAssembly.Memory; HEAPU8?: Uint8Array } }).wasm;
    return (wasm?.wasmMemory?.buffer ?? wasm?.HEAPU8?.buffer)?.byteLength;
  };
  const folder = caseFolder(c);
  const { inputShape, size } = caseInput(c);
  const { family, shape } = caseStudent(c);
  const evalRows = evalChunk(inputShape, family.activations?.(shape, size).eval);
  // The evaluation reads the first rows of the training examples: enough rows for both.
  const rows = Math.max(c.batch, evalRows);
  const text = 'vocab' in shape ? (shape as { vocab: number }).vocab : undefined;
  const data = firstRows(
    text !== undefined
      ? randomTokenData(c.size, text, rows, evalRows, 512)
      : randomImageData(inputShape, rows, evalRows, 512),
    c.batch,
  );
  const spec = downstreamSchema.parse({ model: 'pretrained', folder });
  const heapBefore = heap();
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    await timeJob(spec, STEP_METHODS.aft, data, c.batch, 2);
  });
  return {
    ...c,
    evalRows,
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    tensorPeakBytes: info.peakBytes,
    ...(heapBefore !== undefined ? { wasmHeapStartBytes: heapBefore, wasmHeapBytes: heap()! } : {}),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

async function main(): Promise<void> {
  const [mode, arg] = process.argv.slice(2);
  if (mode === '--child') {
    const c = MEASURE_CASES.find((x) => x.name === arg)!;
    process.stdout.write(JSON.stringify(await child(c)) + '\n');
    return;
  }
  const only = process.argv.slice(2);
  const previous: MeasuredCase[] = fs.existsSync(OUT)
    ? (JSON.parse(fs.readFileSync(OUT, 'utf8')) as { cases: MeasuredCase[] }).cases
    : [];
  const results = new Map(previous.map((r) => [r.name, r]));
  for (const c of MEASURE_CASES) {
    if (only.length && !only.includes(c.name)) continue;
    const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', c.name], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status}\n${r.stderr}`);
    const line = r.stdout.trim().split('\n').pop()!;
    const m = JSON.parse(line) as MeasuredCase;
    process.stderr.write(`${c.name}: ${line}\n`);
    results.set(c.name, m);
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  const cases = MEASURE_CASES.map((c) => results.get(c.name)).filter((x) => x !== undefined);
  writeFileAtomic(
    OUT,
    JSON.stringify(
      {
        about:
          'Measured by scripts/memory/measure.ts: trainJob (AFT, ψ 512 noise features, Adam, 2 steps + one evaluation chunk) per case, one process each.',
        cases,
      },
      null,
      2,
    ) + '\n',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
