/**
 * The memory estimate (sidecar/src/memory/) against peaks measured in real training jobs
 * (test/fixtures/memory/measured.json, made by scripts/memory/measure.ts: the wasm heap, the
 * resident memory on cpu), against exact parameter counts (the students and methods as built),
 * and the refusal: the numbers it gives and the remedies it offers, each checked by the estimate.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { AftError } from '../../../core/common/util/errors';
import { downstreamSchema } from '../../../core/node/experiment/schema';
import {
  caseInput,
  caseStudent,
  MEASURE_CASES,
  type MeasureCase,
  type MeasuredCase,
} from '../../../sidecar/src/bench/memoryCases';
import { formatBytes } from '../../../sidecar/src/memory/estimate';
import { memoryVerdict, PROCESS_BASE_BYTES, WASM_HEAP_MAX, type Machine } from '../../../sidecar/src/memory/limits';
import { methodParams } from '../../../sidecar/src/memory/methodParams';
import {
  checkStudentMemory,
  studentMemory,
  studentMemoryInput,
  type StudentMemoryQuery,
} from '../../../sidecar/src/memory/studentMemory';
import { createMethod } from '../../../sidecar/src/methods/registry';
import { SharedMethodState } from '../../../sidecar/src/methods/method';
import { createPretrainedStudent, readHubFolder } from '../../../sidecar/src/models/pretrained';
import { createModel } from '../../../sidecar/src/models/model';
import { scratchCounts } from '../../../sidecar/src/memory/scratchModels';
import { initBackend } from '../../../sidecar/src/runtime/tf';
import { Rng } from '../../../sidecar/src/util/rng';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures');
const measured = (
  JSON.parse(fs.readFileSync(path.join(FIXTURES, 'memory', 'measured.json'), 'utf8')) as { cases: MeasuredCase[] }
).cases;

/** How far the estimate may be from a measured peak, as a fraction of the peak. */
const TOLERANCE = { wasm: 0.2, cpu: 0.25 } as const;

/** A case's query: its student, AFT with ψ 512 wide, Adam; the rows it trained and evaluated when measured. */
function query(c: MeasureCase | MeasuredCase): StudentMemoryQuery {
  return {
    ...caseStudent(c),
    size: caseInput(c).size,
    channels: caseInput(c).channels,
    train: { batch: c.batch, optimizer: 'adam', weight_decay: 0 },
    methods: [{ kind: 'aft', rho: 'sigmoid' }],
    psiWidth: 512,
    ...('evalRows' in c ? { rows: { train: c.batch, eval: c.evalRows } } : {}),
    // Measured with the wasm backend's fused kernels (its one-thread build, as measure.ts runs it).
    fusedKernels: c.backend === 'wasm',
  };
}

describe('the memory estimate against measured peaks', () => {
  it('has the cases the factors were fitted on and others', () => {
    assert.ok(measured.length >= 6, `${measured.length} measured cases`);
  });
  for (const c of measured) {
    it(`${c.name}: within ${TOLERANCE[c.backend] * 100}% of the measured ${c.backend === 'wasm' ? 'wasm heap' : 'resident memory'}`, () => {
      const e = studentMemory(query(c));
      const [estimate, peak] =
        c.backend === 'wasm'
          ? [e.tensorBytes, c.wasmHeapBytes!]
          : [e.tensorBytes + e.hostBytes + PROCESS_BASE_BYTES, c.peakRssBytes];
      const off = (estimate - peak) / peak;
      assert.ok(
        Math.abs(off) <= TOLERANCE[c.backend],
        `estimate ${formatBytes(estimate)} vs measured ${formatBytes(peak)} (${(off * 100).toFixed(0)}%): ${e.parts.map((p) => `${p.name} ${formatBytes(p.bytes)}`).join(', ')}`,
      );
    });
  }
});

describe('parameter counts', () => {
  before(async () => {
    await initBackend('cpu');
  });
  for (const name of [
    'resnet18-tiny',
    'resnet50-tiny',
    'vit-tiny',
    'mixer-tiny',
    'effnet-tiny',
    'bert-tiny',
    'distilbert-tiny',
  ]) {
    it(`${name}: the estimate's parameters and buffers are the built student's`, () => {
      const folder = path.join(FIXTURES, 'students', name);
      const hub = readHubFolder(folder);
      const reads = hub.family.input(hub.shape);
      const text = reads.kind === 'tokens';
      const input = studentMemoryInput({
        family: hub.family,
        shape: hub.shape,
        size: text ? [16, 1] : [32, 32],
        channels: text ? 1 : 3,
        train: { batch: 4, optimizer: 'adam', weight_decay: 0 },
        methods: [{ kind: 'stl', rho: 'sigmoid' }],
        psiWidth: 0,
      });
      const spec = downstreamSchema.parse({ model: 'pretrained', folder, head: 'keep' });
      const size = (reads.kind === 'image' ? reads.size : undefined) ?? [32, 32];
      const model = text
        ? createPretrainedStudent(spec, [16], hub.shape.numClasses, 0, undefined, reads.vocab)
        : createPretrainedStudent(spec, [...size, 3], hub.shape.numClasses, 0);
      try {
        const count = (vs: Iterable<{ size: number }>): number => [...vs].reduce((n, v) => n + v.size, 0);
        assert.equal(input.params, count(model.params.values()));
        assert.equal(input.buffers, count(model.buffers?.values() ?? []));
      } finally {
        model.dispose();
      }
    });
  }

  for (const spec of [
    { model: 'mlp', hidden: [32, 16] },
    { model: 'cnn', channels: [8, 16], hidden: [32] },
  ] as const) {
    it(`${spec.model}: the counted parameters are the built model's`, () => {
      const parsed = downstreamSchema.parse(spec);
      const model = createModel(parsed, [28, 28, 1], 10, 0);
      try {
        const built = [...model.params.values()].reduce((n, v) => n + v.size, 0);
        assert.equal(scratchCounts(parsed, [28, 28, 1], 10)?.params, built);
      } finally {
        model.dispose();
      }
    });
  }

  const methods: { kind: 'stl' | 'kd' | 'aft' | 'aft-no-kernel' | 'rkd'; rho: 'sigmoid' | 'dense' | 'identity' }[] = [
    { kind: 'stl', rho: 'sigmoid' },
    { kind: 'kd', rho: 'sigmoid' },
    { kind: 'aft', rho: 'sigmoid' },
    { kind: 'aft', rho: 'dense' },
    { kind: 'aft', rho: 'identity' },
    { kind: 'aft-no-kernel', rho: 'sigmoid' },
    { kind: 'rkd', rho: 'sigmoid' },
  ];
  for (const m of methods) {
    it(`${m.kind} (ρ ${m.rho}): the parameters it trains are the method's as created`, async () => {
      const [d, D] = [24, 40];
      const method = await createMethod({
        method: { name: m.kind, kind: m.kind, kernel: 'linear', rho: m.rho, priorSteps: 1 },
        featureDim: d,
        psiDim: D,
        rng: new Rng(0),
        seed: 0,
        data: {
          key: 'k',
          rows: 8,
          psiTrain: new Float32Array(8 * D),
          segments: [{ name: 'psi', offset: 0, width: D }],
          labels: new Int32Array(8),
          numClasses: 2,
          initialFeatures: () => Promise.resolve(new Float32Array(8 * d)),
          shared: new SharedMethodState(),
        },
      });
      try {
        const trained = [...method.modelParams, ...method.priorParams].reduce((n, v) => n + v.size, 0);
        assert.equal(methodParams(m, d, D).trained, trained);
      } finally {
        method.dispose();
      }
    });
  }
});

describe('the refusal', () => {
  const resnet = MEASURE_CASES.find((c) => c.model === 'resnet18')!;
  const vit = MEASURE_CASES.find((c) => c.model === 'vit-tiny')!;
  /** A case's student before the data is read (no rows known: the full evaluation chunk), as `aft validate` sees it. */
  const at = (c: MeasureCase, change: Partial<StudentMemoryQuery>): StudentMemoryQuery => ({ ...query(c), ...change });
  const big: Machine = { totalBytes: 64 * 2 ** 30, freeBytes: 48 * 2 ** 30 };
  const where = { file: '<experiment>', field: 'train.batch' };

  it('refuses a ResNet-18 at 224x224, batch 256 on wasm, with the numbers and remedies that fit', () => {
    const q = at(resnet, { size: [224, 224], train: { batch: 256, optimizer: 'adam', weight_decay: 0 } });
    const r = checkStudentMemory(q, 'wasm', where, big);
    assert.ok(r.refusal instanceof AftError);
    assert.equal(r.refusal.code, 'bad_input');
    assert.equal(r.verdict.limitBytes, WASM_HEAP_MAX);
    assert.match(r.refusal.message, /training needs ~[\d.]+ GiB on wasm .* more than the wasm heap's 4\.00 GiB/);
    const details = r.refusal.details!.join('\n');
    assert.match(details, /^activations \(batch 256\): [\d.]+ GiB/m);
    // The batch it offers fits and the next one does not.
    const batch = Number(/train\.batch: (\d+) fits/.exec(details)![1]);
    const v = (b: number, size = 224): string =>
      memoryVerdict(studentMemory({ ...q, size: [size, size], train: { ...q.train, batch: b } }), 'wasm', big).level;
    assert.equal(v(batch), 'ok');
    assert.equal(v(batch + 1), 'refuse');
    // So does the input size it offers, at the batch asked for.
    const side = Number(/downstream\.input_size: \[(\d+), \1\] fits/.exec(details)![1]);
    assert.equal(v(256, side), 'ok');
    assert.equal(v(256, side + 32), 'refuse');
    assert.match(details, /backend: cpu .* or webgpu or gpu/);
  });

  it('offers no input size for a ViT (its weights fix it), and no cpu where the machine is too small', () => {
    const q = at(vit, { train: { batch: 64, optimizer: 'adam', weight_decay: 0 } });
    const r = checkStudentMemory(q, 'wasm', where, { totalBytes: 4 * 2 ** 30, freeBytes: 2 ** 30 });
    const details = r.refusal!.details!.join('\n');
    assert.doesNotMatch(details, /input_size/);
    assert.match(details, /train\.batch: \d+ fits/);
    assert.match(details, /^backend: webgpu or gpu \(a GPU\)$/m);
  });

  it("refuses on webgpu a tensor larger than the adapter's storage binding, with a batch whose tensors fit", () => {
    const limits = { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 };
    const q = at(resnet, { size: [224, 224], train: { batch: 256, optimizer: 'adam', weight_decay: 0 } });
    const r = checkStudentMemory(q, 'webgpu', where, big, limits);
    assert.match(
      r.refusal!.message,
      /training needs one tensor of ~\d+ MiB, more than the adapter's largest storage buffer \(128 MiB\)/,
    );
    const batch = Number(/train\.batch: (\d+) fits/.exec(r.refusal!.details!.join('\n'))![1]);
    const level = (b: number): string =>
      memoryVerdict(studentMemory({ ...q, train: { ...q.train, batch: b } }), 'webgpu', big, limits).level;
    assert.equal(level(batch), 'ok');
    assert.equal(level(batch + 1), 'refuse');
    // Without the adapter's limits (aft validate starts no backend), nothing is refused.
    assert.equal(checkStudentMemory(q, 'webgpu', where, big).verdict.level, 'ok');
  });

  const cases: { name: string; backend: 'cpu' | 'auto' | 'webgpu'; machine: Machine; level: string }[] = [
    {
      name: 'cpu, more than is free: a warning',
      backend: 'cpu',
      machine: { totalBytes: 8 * 2 ** 30, freeBytes: 2 ** 30 },
      level: 'warn',
    },
    {
      name: 'cpu, more than the machine has: refused',
      backend: 'cpu',
      machine: { totalBytes: 2 ** 30, freeBytes: 2 ** 29 },
      level: 'refuse',
    },
    { name: 'cpu, room enough', backend: 'cpu', machine: big, level: 'ok' },
    { name: 'auto, over the wasm heap: a warning (auto may pick a GPU)', backend: 'auto', machine: big, level: 'warn' },
    { name: 'webgpu: no total to check', backend: 'webgpu', machine: big, level: 'ok' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      // ResNet-18 at 224x224, batch 64: ~6 GiB.
      const q = at(resnet, { size: [224, 224], train: { batch: 64, optimizer: 'adam', weight_decay: 0 } });
      const r = checkStudentMemory(q, c.backend, where, c.machine);
      assert.equal(r.verdict.level, c.level, r.verdict.line);
      assert.equal(r.refusal !== undefined, c.level === 'refuse');
    });
  }
});
