/**
 * The peak memory of a training job before it runs, as arithmetic on counts: parameters,
 * gradients, the optimiser's state and the temporaries of its update, the activations a training
 * step keeps (per example, from the model's shapes: core/node/students/activations.ts) and those of
 * an evaluation chunk, and the method's own parameters. A job's phases do not overlap: the
 * forward and backward pass end (their activations freed) before the optimiser updates, and the
 * evaluation runs between steps, so the peak is the largest phase on top of what always lives.
 * The factors that the counts cannot give (how many tensors tfjs's backward pass makes per
 * activation, how much a backend's allocator adds) are calibrated against measured peaks
 * (test/fixtures/memory/measured.json, made by scripts/memory/measure.ts).
 */
import type { ActivationCount } from '../../../core/node/students/activations';

const F32 = 4;

/** What the estimate is computed from; every count is in float32 elements. */
export interface MemoryInput {
  /** Trained parameters of the student. */
  params: number;
  /** Buffers saved but not trained (BatchNorm's running statistics). */
  buffers: number;
  /** Parameters the method adds (KD's projection, AFT's ρ), trained with the student. */
  methodParams: number;
  /** Activations per example (and one example's share of the largest tensor); undefined when the model cannot say. */
  activations?: ActivationCount;
  batch: number;
  /** Examples per evaluation chunk (train/evaluate.ts `evalChunk`, at most the evaluation rows). */
  evalChunk: number;
  /** Elements of one input example. */
  inputElements: number;
  /** Width of ψ (0 without sources). */
  psiWidth: number;
  optimizer: 'adam' | 'sgd';
  weightDecay: boolean;
  /**
   * The wasm backend's fused kernels run (runtime/fusedKernels.ts): Adam's update is one kernel,
   * not a chain of ops, and a training BatchNorm makes no centred input (`activations.centred`).
   */
  fusedKernels?: boolean;
  /** Rows the process holds in memory (training + evaluation), when known: the dataset and ψ. */
  rows?: number;
}

export interface MemoryPart {
  name: string;
  bytes: number;
}

export interface MemoryEstimate {
  /** Tensor bytes at the peak: what the backend holds (the wasm heap, GPU memory, or the JS heap on cpu). */
  tensorBytes: number;
  /** The phase whose peak that is. */
  peakPhase: 'training step' | 'optimizer update' | 'evaluation';
  /** What makes up the peak, largest first. */
  parts: MemoryPart[];
  /** Bytes outside the backend: the dataset's inputs and ψ held by the process (when rows are known). */
  hostBytes: number;
  /** Whether activations were counted (a model that cannot say is estimated without them). */
  activationsCounted: boolean;
  /** The largest single activation tensor (a training batch's or an evaluation chunk's), 0 when not counted: one GPU buffer. */
  largestTensorBytes: number;
}

/*
 * The factors below are fitted to the wasm heap measured by scripts/memory/measure.ts (the heap,
 * not tfjs's tensor count, is what the 4 GiB limit bounds: its allocator cannot always reuse a
 * freed block, so it grows past the live tensors); test/unit/memory/estimate.test.ts holds every
 * measured case to the estimate, the cases they were not fitted on included.
 */

/**
 * Bytes the backward pass adds per byte of activations the forward made: tfjs keeps each op's
 * input gradient until the whole backward ends (tape.ts), so about one more of each, and the
 * allocator's share. Fitted on every measured case whose peak is the training step (ResNet-18 at
 * 224x224 batch 32, ViT-Tiny batch 4 and 16, EfficientNet-B0 at 64x64 and 128x128, BERT Small),
 * with the products on onnxruntime (runtime/ortKernels.ts), whose temporaries live outside the
 * heap: the estimates are −14% to +17% of those heaps (on XNNPACK, the heap was 2.4 times the
 * activations).
 */
export const BACKWARD_FACTOR = 1.05;

/**
 * The optimiser update's temporaries in parameter-sized tensors: Adam's flat update
 * (train/optimizer.ts) is a chain of 14 ops per chunk, all alive until the update's tidy ends,
 * and the heap holds ~7 more for the blocks it could not reuse (fitted on the wasm heap of
 * ResNet-18 at 64x64 and BERT Small, where the update is the peak, when the wasm backend ran
 * Adam as these ops, d513bd8; the other backends still do); SGD with momentum's chain is 6 ops,
 * scaled alike.
 */
const UPDATE_TEMPORARIES = { adam: 21, sgd: 9 } as const;

/**
 * The same for Adam as one fused kernel per run of parameters (its outputs, then the blocks the
 * heap could not reuse): fitted on ResNet-18 at 64x64 (batch 8 and 32) and 128x128 (batch 16),
 * where the update is the peak, with the wasm backend's fused kernels (9: +18%, −12%, −11% of
 * the measured heaps). It was 13 while every job leaked its initial weights and Adam's initial
 * state (three parameter-sized copies alive at the update); UPDATE_TEMPORARIES, fitted then too
 * and not measured since, keeps those three: an estimate over by them, not under.
 */
const FUSED_ADAM_TEMPORARIES = 9;

const updateTemporaries = (m: MemoryInput): number =>
  m.fusedKernels && m.optimizer === 'adam' ? FUSED_ADAM_TEMPORARIES : UPDATE_TEMPORARIES[m.optimizer];

/**
 * The heap per byte of an evaluation's activations: fitted on ViT-Tiny evaluating 27 images of
 * 224x224 at once (2.36 GiB of heap, before train/evaluate.ts bounded a chunk by its activations;
 * the fixture's rows are measured since).
 */
export const EVAL_FACTOR = 1.1;

export function estimateMemory(m: MemoryInput): MemoryEstimate {
  const trained = m.params + m.methodParams;
  const always: MemoryPart[] = [
    { name: 'weights', bytes: (m.params + m.buffers + m.methodParams) * F32 },
    {
      name: `${m.optimizer === 'adam' ? 'Adam' : 'SGD momentum'} state`,
      bytes: (m.optimizer === 'adam' ? 2 : 1) * trained * F32,
    },
  ];
  const gradients: MemoryPart = { name: 'gradients', bytes: trained * F32 };
  const batchInputs = m.batch * (m.inputElements + m.psiWidth) * F32;
  const act = m.activations;
  const phases: { phase: MemoryEstimate['peakPhase']; parts: MemoryPart[] }[] = [
    {
      phase: 'training step',
      parts: [
        ...(act
          ? [
              {
                name: `activations (batch ${m.batch})`,
                bytes: Math.round(
                  m.batch * (act.train - (m.fusedKernels ? (act.centred ?? 0) : 0)) * (1 + BACKWARD_FACTOR) * F32,
                ),
              },
            ]
          : []),
        gradients,
        { name: 'batch inputs', bytes: batchInputs },
      ],
    },
    {
      phase: 'optimizer update',
      parts: [
        gradients,
        {
          name: 'update temporaries',
          bytes: (updateTemporaries(m) + (m.weightDecay ? 2 : 0)) * trained * F32,
        },
      ],
    },
    {
      phase: 'evaluation',
      parts: act
        ? [
            {
              name: `evaluation activations (chunk ${m.evalChunk})`,
              bytes: Math.round(m.evalChunk * act.eval * EVAL_FACTOR * F32),
            },
            { name: 'evaluation inputs', bytes: m.evalChunk * m.inputElements * F32 },
          ]
        : [],
    },
  ];
  const sum = (ps: MemoryPart[]): number => ps.reduce((a, p) => a + p.bytes, 0);
  const peak = phases.reduce((a, b) => (sum(b.parts) > sum(a.parts) ? b : a));
  const parts = [...always, ...peak.parts].sort((a, b) => b.bytes - a.bytes);
  return {
    tensorBytes: sum(parts),
    peakPhase: peak.phase,
    parts,
    hostBytes: m.rows !== undefined ? m.rows * (m.inputElements + m.psiWidth) * F32 : 0,
    activationsCounted: act !== undefined,
    largestTensorBytes: act ? Math.max(m.batch, m.evalChunk) * act.largest * F32 : 0,
  };
}

/** Bytes as a person reads them: "1.31 GiB", "412 MiB". */
export function formatBytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${gib.toFixed(2)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

/** "1.31 GiB (activations (batch 32) 812 MiB, weights 45 MiB, …)". */
export function describeEstimate(e: MemoryEstimate, top = 3): string {
  const shown = e.parts
    .slice(0, top)
    .map((p) => `${p.name} ${formatBytes(p.bytes)}`)
    .join(', ');
  return `${formatBytes(e.tensorBytes)} at the ${e.peakPhase} (${shown}${e.parts.length > top ? ', …' : ''})${e.activationsCounted ? '' : '; activations not counted: this model cannot say'}`;
}
