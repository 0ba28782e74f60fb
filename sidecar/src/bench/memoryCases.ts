/**
 * The cases of scripts/memory/measure.ts: real students (full-size ResNet-18, ViT-Tiny and
 * EfficientNet-B0, BERT Small, a Mixer of width 256) trained at a few batch sizes and input sizes on each CPU backend. The
 * memory test (test/unit/memory/estimate.test.ts) computes the estimate of each case from the
 * same shapes and compares it with what the script measured.
 */
import type { BackendId } from '../runtime/tf';
import type { StudentFamily, StudentShape } from '../models/students/family';
import { bertFamily } from '../models/students/bert';
import { effnetFamily } from '../models/students/efficientnet';
import { mixerFamily } from '../models/students/mixer';
import { resnetFamily } from '../models/students/resnet';
import { vitFamily } from '../models/students/vit';
import type { MixerShape } from '../../../core/node/students/mixer';
import {
  BERT_SMALL_SHAPE,
  bertSmallFolder,
  EFFNET_B0_SHAPE,
  effnetB0Folder,
  RESNET18_SHAPE,
  resnet18Folder,
  studentFolder,
  VIT_TINY_SHAPE,
  vitTinyFolder,
} from './students';

export interface MeasureCase {
  name: string;
  model: 'resnet18' | 'vit-tiny' | 'mixer-256' | 'effnet-b0' | 'bert-small';
  backend: Extract<BackendId, 'wasm' | 'cpu'>;
  batch: number;
  /** Input height = width; a text student's tokens per example. */
  size: number;
}

export interface MeasuredCase extends MeasureCase {
  /** Rows of the final evaluation: one chunk (train/evaluate.ts evalChunk, from the input and the activations). */
  evalRows: number;
  seconds: number;
  /** The peak of tfjs's tensor bytes over the job (tf.profile). */
  tensorPeakBytes: number;
  /** The wasm module's heap before the job and at its end (it never shrinks: its peak). */
  wasmHeapStartBytes?: number;
  wasmHeapBytes?: number;
  peakRssBytes: number;
}

export const MEASURE_CASES: readonly MeasureCase[] = [
  { name: 'resnet18-64-b8-wasm', model: 'resnet18', backend: 'wasm', batch: 8, size: 64 },
  { name: 'resnet18-64-b32-wasm', model: 'resnet18', backend: 'wasm', batch: 32, size: 64 },
  { name: 'resnet18-128-b16-wasm', model: 'resnet18', backend: 'wasm', batch: 16, size: 128 },
  { name: 'resnet18-224-b32-wasm', model: 'resnet18', backend: 'wasm', batch: 32, size: 224 },
  { name: 'vit-tiny-224-b4-wasm', model: 'vit-tiny', backend: 'wasm', batch: 4, size: 224 },
  { name: 'vit-tiny-224-b16-wasm', model: 'vit-tiny', backend: 'wasm', batch: 16, size: 224 },
  { name: 'effnet-b0-64-b32-wasm', model: 'effnet-b0', backend: 'wasm', batch: 32, size: 64 },
  { name: 'effnet-b0-128-b16-wasm', model: 'effnet-b0', backend: 'wasm', batch: 16, size: 128 },
  { name: 'bert-small-128-b16-wasm', model: 'bert-small', backend: 'wasm', batch: 16, size: 128 },
  { name: 'mixer-256-128-b16-wasm', model: 'mixer-256', backend: 'wasm', batch: 16, size: 128 },
  // The cpu backend's convolutions are plain JavaScript: a ResNet case took over 10 minutes here.
  { name: 'mixer-256-128-b16-cpu', model: 'mixer-256', backend: 'cpu', batch: 16, size: 128 },
];

const MIXER_256: MixerShape = {
  arch: 'mixer_b16_224',
  numClasses: 1000,
  inChannels: 3,
  patch: 16,
  embedDim: 256,
  depth: 4,
  tokensDim: 128,
  channelsDim: 1024,
  grid: [8, 8],
  dropout: { head: 0, proj: 0 },
};

/** A case's inputs as the estimate and the engine see them: [height, width, channels], or a text student's [tokens, 1, 1]. */
export function caseInput(c: MeasureCase): { size: [number, number]; channels: number; inputShape: number[] } {
  return c.model === 'bert-small'
    ? { size: [c.size, 1], channels: 1, inputShape: [c.size] }
    : { size: [c.size, c.size], channels: 3, inputShape: [c.size, c.size, 3] };
}

/** The family and shape of a case's student (what the estimate reads from a folder's header). */
export function caseStudent(c: MeasureCase): { family: StudentFamily; shape: StudentShape } {
  switch (c.model) {
    case 'resnet18':
      return { family: resnetFamily, shape: RESNET18_SHAPE };
    case 'vit-tiny':
      return { family: vitFamily, shape: VIT_TINY_SHAPE };
    case 'mixer-256':
      return { family: mixerFamily, shape: MIXER_256 };
    case 'effnet-b0':
      return { family: effnetFamily, shape: EFFNET_B0_SHAPE };
    case 'bert-small':
      return { family: bertFamily, shape: BERT_SMALL_SHAPE };
  }
}

/** The case's student as a hub folder (written once under the OS temp folder). */
export function caseFolder(c: MeasureCase): string {
  switch (c.model) {
    case 'resnet18':
      return resnet18Folder();
    case 'vit-tiny':
      return vitTinyFolder();
    case 'effnet-b0':
      return effnetB0Folder();
    case 'bert-small':
      return bertSmallFolder();
    case 'mixer-256':
      return studentFolder('mixer-256', mixerFamily, MIXER_256, {
        num_classes: 1000,
        global_pool: 'avg',
        model_args: { img_size: 128, patch_size: 16, embed_dim: 256, num_blocks: 4 },
        pretrained_cfg: { input_size: [3, 128, 128], num_classes: 1000, first_conv: 'stem.proj', classifier: 'head' },
      });
  }
}
