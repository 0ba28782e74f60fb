import * as fs from 'node:fs';
import * as path from 'node:path';
import { syntheticRun } from '../webviews/bench/synthetic';
import { RunReader } from '../sidecar/src/runs/reader';
import { RunAccumulator } from '../webviews/src/data/runAccumulator';
const dir = syntheticRun({ steps: 50000, methods: ['stl', 'kd', 'aft'], seeds: [0, 1, 2] });
for (let i = 0; i < 2; i++) {
  let t = performance.now();
  const text = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');
  console.log('read', (performance.now() - t).toFixed(0)); t = performance.now();
  const lines = text.split('\n'); lines.pop();
  console.log('split', (performance.now() - t).toFixed(0)); t = performance.now();
  JSON.parse('[' + lines.join(',') + ']');
  console.log('parse array', (performance.now() - t).toFixed(0)); t = performance.now();
  for (const l of lines) JSON.parse(l);
  console.log('parse lines', (performance.now() - t).toFixed(0)); t = performance.now();
  const c = new RunReader(dir).poll();
  console.log('reader.poll', (performance.now() - t).toFixed(0), c.rows.length); t = performance.now();
  const acc = new RunAccumulator('x', dir);
  acc.apply(c);
  console.log('acc.apply', (performance.now() - t).toFixed(0)); t = performance.now();
  acc.snapshot();
  console.log('snapshot', (performance.now() - t).toFixed(0));
}
