/**
 * Language-server benchmark: the time from a change to its diagnostics for a 300-line
 * experiment file that references 84 array files (header reads cached by modification time),
 * for an experiment whose student is a pretrained folder (its check cached by the folder's
 * stamp) next to one uncached check of that folder, and the heap while a 1 MB file is edited
 * repeatedly.
 * Run: node --expose-gc --import tsx language-server/bench/diagnostics.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StateEntry } from '../../core/node/students/family';
import { checkHubFolder } from '../../core/node/students/hubFolder';
import { STUDENT_SPECS } from '../../core/node/students/registry';
import { resnetStateShapes } from '../../core/node/students/resnet';
import { NO_DROPOUT, vitStateShapes } from '../../core/node/students/vit';
import { fileUri, LspClient } from '../../test/lsp/harness';

const data = path.join(__dirname, '..', '..', 'test', 'fixtures', 'data');
const students = path.join(__dirname, '..', '..', 'test', 'fixtures', 'students');

/** A 300-line experiment: npy dataset, 40 feature sources, 58 methods, their β grids. */
export function experiment300(): string {
  const lines = [
    '# Benchmark experiment: many sources and ablations.',
    'name: bench',
    'description: a 300-line experiment file',
    'dataset:',
    '  source: npy',
  ];
  for (const split of ['train', 'test'])
    lines.push(`  ${split}:`, `    inputs: ${data}/x_${split}.npy`, `    labels: ${data}/y_${split}.npy`);
  lines.push('pretrained:');
  for (let i = 0; i < 40; i++)
    lines.push(
      `  - name: f${i}`,
      '    features:',
      `      train: ${data}/f_train.npy`,
      `      test: ${data}/f_test.npy`,
    );
  lines.push('  - { name: noise, noise: 16 }', 'downstream: { model: mlp, hidden: [16] }', 'methods:', '  - stl');
  const kernels = ['linear', 'rbf'];
  const rhos = ['sigmoid', 'dense', 'identity'];
  for (let i = 0; i < 57; i++)
    lines.push(`  - { name: aft-${i}, method: aft, kernel: ${kernels[i % 2]}, rho: ${rhos[i % 3]} }`);
  lines.push('beta:');
  for (let i = 0; i < 57; i++) lines.push(`  aft-${i}: [1, 10, 100]`);
  lines.push(
    'train:',
    '  steps: 20',
    '  batch: 16',
    '  optimizer: adam',
    '  lr: 1.0e-3',
    'tune: { holdout: 0.1 }',
    'seeds: [0, 1, 2]',
    'backend: auto',
  );
  while (lines.length < 300) lines.push('# padding comment to reach 300 lines');
  return lines.join('\n') + '\n';
}

/** About 1 MB of valid experiment: thousands of noise sources and method variants. */
function experiment1mb(): string {
  const lines = ['name: big', 'dataset: { source: mnist, train: 500, test: 500 }', 'pretrained:'];
  let size = 0;
  for (let i = 0; size < 500_000; i++) size += lines.push(`  - { name: noise-${i}, noise: ${1 + (i % 64)} }`) && 40;
  lines.push('methods:');
  for (let i = 0; size < 1_000_000; i++)
    size += lines.push(`  - { name: aft-${i}, method: aft, kernel: rbf, rho: dense }`) && 55;
  return lines.join('\n') + '\n';
}

const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const client = await LspClient.start({ debounceMs: 0 });
  const text = experiment300();
  const uri = fileUri(path.join(__dirname, 'bench.aft.yaml'));
  const first = await client.open(uri, text);
  if (first.length) throw new Error(`the benchmark file should be valid: ${JSON.stringify(first[0])}`);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 300; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const d = await client.change(uri, text.replace('steps: 20', `steps: ${21 + i}`));
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (d.length) throw new Error('unexpected diagnostics');
  }
  const [warm, warmCpu] = [times.slice(20), cpu.slice(20)];
  console.log(
    `300-line file (${text.split('\n').length - 1} lines, 84 file references), change → diagnostics over LSP, ${warm.length} edits after 20 warm-up:`,
  );
  console.log(
    `  wall p50 ${percentile(warm, 50).toFixed(1)} ms, p95 ${percentile(warm, 95).toFixed(1)} ms, max ${Math.max(...warm).toFixed(1)} ms`,
  );
  // CPU time of client and server together: what the check costs, less sensitive than wall time
  // to other processes on a busy machine.
  console.log(
    `  cpu  p50 ${percentile(warmCpu, 50).toFixed(1)} ms, p95 ${percentile(warmCpu, 95).toFixed(1)} ms; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`,
  );

  await studentFolders(client);

  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) console.log('(run with --expose-gc for heap numbers)');
  const big = experiment1mb();
  const bigUri = fileUri(path.join(__dirname, 'big.aft.yaml'));
  const heap: number[] = [];
  const checks: number[] = [];
  gc?.();
  const base = process.memoryUsage().heapUsed;
  await client.open(bigUri, big);
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now();
    await client.change(bigUri, big.replace('train: 500', `train: ${400 + i}`));
    checks.push(performance.now() - t0);
    gc?.();
    heap.push(process.memoryUsage().heapUsed - base);
  }
  console.log(`1 MB file (${(big.length / 1e6).toFixed(2)} MB, ${big.split('\n').length - 1} lines), 12 edits:`);
  console.log(
    `  check p50 ${percentile(checks, 50).toFixed(0)} ms; heap over baseline after each edit: ${heap.map(mb).join(', ')}; rss ${mb(process.memoryUsage().rss)}`,
  );
  await client.close(bigUri);
  await new Promise((r) => setTimeout(r, 50));
  gc?.();
  console.log(`  heap over baseline after closing it: ${mb(process.memoryUsage().heapUsed - base)}`);
  client.dispose();
}

/**
 * A hub folder of a published model's size whose model.safetensors holds the real header and a
 * sparse hole for the weights (nothing written): the header is what the checks read.
 */
function sparseHubFolder(dir: string, config: Record<string, unknown>, entries: StateEntry[]): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const e of entries) {
    const dtype = e.kind === 'counter' ? 'I64' : 'F32';
    const bytes = e.shape.reduce((a, b) => a * b, 1) * (dtype === 'I64' ? 8 : 4);
    header[e.key] = { dtype, shape: e.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, 'model.safetensors');
  fs.writeFileSync(file, Buffer.concat([prefix, json]));
  fs.truncateSync(file, 8 + json.length + offset);
  return dir;
}

/** Change → diagnostics with a pretrained student (cached), next to the folder's check uncached. */
async function studentFolders(client: LspClient): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-bench-students-'));
  const resnet50 = sparseHubFolder(
    path.join(tmp, 'resnet50'),
    { architecture: 'resnet50', num_classes: 1000 },
    resnetStateShapes({ arch: 'resnet50', width: 64, inChannels: 3, numClasses: 1000 }),
  );
  const vitBase = sparseHubFolder(
    path.join(tmp, 'vit-base'),
    { architecture: 'vit_base_patch16_224', num_classes: 1000 },
    vitStateShapes({
      arch: 'vit_base_patch16_224',
      numClasses: 1000,
      inChannels: 3,
      patch: 16,
      embedDim: 768,
      depth: 12,
      heads: 12,
      mlpHidden: 3072,
      grid: [14, 14],
      dropout: NO_DROPOUT,
    }),
  );
  console.log('pretrained student folders, change → diagnostics, 100 edits after 10 warm-up:');
  for (const [name, folder] of [
    ['resnet50-tiny (fixture)', path.join(students, 'resnet50-tiny')],
    ['effnet-tiny (fixture)', path.join(students, 'effnet-tiny')],
    ['bert-tiny (fixture)', path.join(students, 'bert-tiny')],
    ['resnet50, ImageNet size', resnet50],
    ['vit_base_patch16_224, ImageNet size', vitBase],
  ]) {
    const cold: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      checkHubFolder(folder, STUDENT_SPECS);
      cold.push(performance.now() - t0);
    }
    const text = `name: student\ndataset: { source: mnist }\ndownstream: { model: pretrained, folder: ${folder} }\nmethods: [stl]\ntrain: { steps: 20 }\n`;
    const weights = fs.statSync(path.join(folder, 'model.safetensors')).size;
    const uri = fileUri(path.join(tmp, `${path.basename(folder)}.aft.yaml`));
    const first = await client.open(uri, text);
    if (first.length) throw new Error(`the ${name} file should be valid: ${JSON.stringify(first[0])}`);
    const times: number[] = [];
    for (let i = 0; i < 110; i++) {
      const t0 = performance.now();
      await client.change(uri, text.replace('steps: 20', `steps: ${21 + i}`));
      times.push(performance.now() - t0);
    }
    const warm = times.slice(10);
    console.log(
      `  ${name} (model.safetensors ${mb(weights)}): p50 ${percentile(warm, 50).toFixed(2)} ms, p95 ${percentile(warm, 95).toFixed(2)} ms; the folder's check uncached p50 ${percentile(cold, 50).toFixed(2)} ms`,
    );
    await client.close(uri);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

if (require.main === module) void main();
