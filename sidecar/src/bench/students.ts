/**
 * The pretrained-student rows of `npm run bench:train`: full-size students with random weights,
 * each written once as a timm hub folder in the OS temp folder, fine-tuned as `model: pretrained`
 * with STL and with AFT (ψ: 512 noise features): ResNet-18 at batch 32 on 64x64 inputs,
 * ViT-Tiny (vit_tiny_patch16_224) at batch 16 on 224x224, EfficientNet-B0 (efficientnet_b0)
 * at batch 32 on 64x64, and BERT Small (the paper's text student, google/bert_uncased_L-4_H-512_A-8's
 * shape, a transformers folder) at batch 16 of 64 tokens. The PyTorch reference at the same
 * thread count is scripts/bench/pytorch_students.py.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downstreamSchema, type DownstreamSpec } from '../../../core/node/experiment/schema';
import type { ResolvedMethod } from '../../../core/node/experiment/methods';
import { encodeSafetensors } from '../../../core/node/io/safetensors';
import { createModel } from '../models/model';
import { EFFNET_B0, type EffNetShape } from '../../../core/node/students/efficientnet';
import { effnetFamily } from '../models/students/efficientnet';
import { bertFamily } from '../models/students/bert';
import type { TextEncoderShape } from '../../../core/node/students/bert';
import type { StudentFamily, StudentShape } from '../models/students/family';
import { resnetFamily } from '../models/students/resnet';
import { vitFamily } from '../models/students/vit';
import { NO_DROPOUT, type ViTShape } from '../../../core/node/students/vit';
import type { ResNetShape } from '../../../core/node/students/resnet';
import { crossEntropy } from '../methods/regularizers';
import { tf } from '../runtime/tf';
import { fusedKernelsReady } from '../runtime/fusedKernels';
import { Rng } from '../util/rng';
import { msPerStep, randomImageData, randomTokenData, type StepClock } from './steps';
import { writeFileAtomic } from '../../../core/node/util/fsx';
import { checkHubFolder } from '../models/pretrained';
import { studentMemory } from '../memory/studentMemory';

/**
 * A student of a family as a hub folder with the library's initialisation of a new model
 * (`family.init`, seeded), written once per machine under the OS temp folder.
 */
export function studentFolder<S extends StudentShape>(
  name: string,
  family: StudentFamily<S>,
  shape: S,
  config: Record<string, unknown>,
): string {
  const dir = path.join(os.tmpdir(), `aft-bench-${name}`);
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  const state = family.init(shape, new Rng(0));
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify({ architecture: shape.arch, ...config }, null, 2));
  writeFileAtomic(path.join(dir, 'model.safetensors'), encodeSafetensors(state, { format: 'pt' }));
  return dir;
}

/** torchvision's ResNet-18 with ImageNet's 1000 classes. */
export const RESNET18_SHAPE: ResNetShape = { arch: 'resnet18', width: 64, inChannels: 3, numClasses: 1000 };

/** timm's vit_tiny_patch16_224 with ImageNet's 1000 classes. */
export const VIT_TINY_SHAPE: ViTShape = {
  arch: 'vit_tiny_patch16_224',
  numClasses: 1000,
  inChannels: 3,
  patch: 16,
  embedDim: 192,
  depth: 12,
  heads: 3,
  mlpHidden: 768,
  grid: [14, 14],
  dropout: NO_DROPOUT,
};

/** timm's pretrained_cfg of an ImageNet CNN (ResNet, EfficientNet): 224x224, crop 0.875, ImageNet's mean and std. */
const IMAGENET_CFG = {
  input_size: [3, 224, 224],
  crop_pct: 0.875,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  num_classes: 1000,
};

/**
 * torchvision's ResNet-18 state dict (timm's key names are the same), initialised as torchvision
 * does (45 MB); the bench and the GPU check share it.
 */
export function resnet18Folder(): string {
  return studentFolder('resnet18', resnetFamily, RESNET18_SHAPE, {
    num_classes: 1000,
    num_features: 512,
    global_pool: 'avg',
    pretrained_cfg: {
      ...IMAGENET_CFG,
      interpolation: 'bilinear',
      first_conv: 'conv1',
      classifier: 'fc',
    },
  });
}

/** timm's vit_tiny_patch16_224 (width 192, depth 12, 3 heads, 224x224), initialised as timm does (22 MB). */
export function vitTinyFolder(): string {
  return studentFolder('vit-tiny', vitFamily, VIT_TINY_SHAPE, {
    num_classes: 1000,
    num_features: 192,
    global_pool: 'token',
    pretrained_cfg: {
      input_size: [3, 224, 224],
      fixed_input_size: true,
      crop_pct: 0.9,
      interpolation: 'bicubic',
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      num_classes: 1000,
      first_conv: 'patch_embed.proj',
      classifier: 'head',
    },
  });
}

export const EFFNET_B0_SHAPE: EffNetShape = {
  arch: 'efficientnet_b0',
  numClasses: 1000,
  inChannels: 3,
  stem: EFFNET_B0.stem,
  stages: EFFNET_B0.stages.map((st) => ({ repeats: st.repeats, width: st.width })),
  head: EFFNET_B0.head,
  dropRate: 0,
  dropPathRate: 0,
};

/** timm's efficientnet_b0 (5.3 M parameters), initialised as timm does (21 MB). */
export function effnetB0Folder(): string {
  return studentFolder('efficientnet-b0', effnetFamily, EFFNET_B0_SHAPE, {
    num_classes: 1000,
    num_features: EFFNET_B0.head,
    global_pool: 'avg',
    pretrained_cfg: {
      ...IMAGENET_CFG,
      interpolation: 'bicubic',
      first_conv: 'conv_stem',
      classifier: 'classifier',
    },
  });
}

/** BERT Small's vocabulary (bert-base-uncased's). */
const BERT_VOCAB = 30522;

/** google/bert_uncased_L-4_H-512_A-8's shape (BERT Small), as the bench's folder has it. */
export const BERT_SMALL_SHAPE: TextEncoderShape = {
  arch: 'bert',
  numClasses: 2,
  prefix: 'bert.',
  vocab: BERT_VOCAB,
  maxPositions: 512,
  typeVocab: 2,
  hidden: 512,
  layers: 4,
  heads: 8,
  intermediate: 2048,
  eps: 1e-12,
  padId: 0,
  dropout: { hidden: 0.1, attn: 0.1, classifier: 0.1 },
  initStd: 0.02,
};

/**
 * google/bert_uncased_L-4_H-512_A-8's shape (the paper's "BERT Small"; 4 layers, hidden 512, 8
 * heads) as a transformers folder with transformers' initialisation, and a tokenizer.json
 * (special tokens only: the bench feeds ids), written once per machine under the OS temp folder.
 */
export function bertSmallFolder(): string {
  const dir = path.join(os.tmpdir(), 'aft-bench-bert-small');
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];
  const tokenizer = {
    version: '1.0',
    added_tokens: specials.map((content, id) => ({ id, content, special: true })),
    normalizer: { type: 'BertNormalizer', lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    model: { type: 'WordPiece', unk_token: '[UNK]', vocab: Object.fromEntries(specials.map((t, i) => [t, i])) },
  };
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(
    path.join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
      hidden_size: 512,
      num_hidden_layers: 4,
      num_attention_heads: 8,
      intermediate_size: 2048,
      vocab_size: BERT_VOCAB,
    }),
  );
  writeFileAtomic(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileAtomic(
    path.join(dir, 'model.safetensors'),
    encodeSafetensors(bertFamily.init(BERT_SMALL_SHAPE, new Rng(0)), { format: 'pt' }),
  );
  return dir;
}

/** The rows: which folder, at which batch and input size (a text student's: tokens per example). */
export const STUDENT_BENCHES = {
  resnet18: { folder: resnet18Folder, batch: 32, size: 64, text: false },
  'vit-tiny': { folder: vitTinyFolder, batch: 16, size: 224, text: false },
  'effnet-b0': { folder: effnetB0Folder, batch: 32, size: 64, text: false },
  'bert-small': { folder: bertSmallFolder, batch: 16, size: 64, text: true },
} as const;

const CLASSES = 10;
const PSI_WIDTH = 512;

export interface StudentBench {
  stl_ms: number;
  aft_ms: number;
  ratio: number;
  batch: number;
  size: number;
  /** Peak bytes of tfjs tensors in one STL training step, the model's weights included (tf.profile). */
  step_tensor_peak_mb: number;
  /** Peak resident memory of this process so far (the wasm heap included). */
  peak_rss_mb: number;
  /** The memory estimate of these jobs (sidecar/src/memory/: what the wasm heap is refused against). */
  /** The memory estimate's tensors (image students only: a text student's activations are not counted). */
  estimate_mb?: number;
}

export async function benchStudent(
  name: keyof typeof STUDENT_BENCHES,
  methods: Record<'stl' | 'aft', ResolvedMethod>,
  steps: number,
  clock: StepClock = 'wall',
): Promise<StudentBench> {
  const { folder, batch, size, text } = STUDENT_BENCHES[name];
  const dir = folder();
  const spec: DownstreamSpec = downstreamSchema.parse({ model: 'pretrained', folder: dir });
  const inputShape = text ? [size] : [size, size, 3];
  const data = text
    ? randomTokenData(size, BERT_VOCAB, 2 * batch, batch, PSI_WIDTH)
    : randomImageData(inputShape, 2 * batch, batch, PSI_WIDTH);
  const { x, y } = data.train;
  // No warm-up job: the timed job's first steps (kernels and XNNPACK operators created) are not counted.
  const ms = (method: ResolvedMethod): Promise<number> => msPerStep(spec, method, data, batch, steps, 0, clock);
  const stl = await ms(methods.stl);
  const aft = await ms(methods.aft);
  // One STL step under tf.profile for the tensors' peak.
  const before = tf.memory().numBytes;
  const model = createModel(spec, inputShape, CLASSES, 0, { vocabSize: data.vocabSize });
  const params = [...model.params.values()];
  const info = await tf.profile(async () => {
    const grads = tf.tidy(() => {
      const xb = tf.tensor(x.subarray(0, batch * inputShape.reduce((a, b) => a * b, 1)), [batch, ...inputShape]);
      const yb = tf.tensor1d(Array.from(y.subarray(0, batch)), 'int32');
      return Object.values(tf.variableGrads(() => crossEntropy(model.forward(xb, 'train').logits, yb), params).grads);
    });
    // Read (as training does, asynchronously), so that every kernel has run before the peak is taken.
    for (const g of grads) await g.data();
    tf.dispose(grads);
  });
  model.dispose();
  return {
    stl_ms: +stl.toFixed(1),
    aft_ms: +aft.toFixed(1),
    ratio: +(aft / stl).toFixed(3),
    batch,
    size,
    step_tensor_peak_mb: Math.round((info.peakBytes - before) / 2 ** 20),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(text
      ? {}
      : {
          estimate_mb: Math.round(
            studentMemory({
              ...checkHubFolder(dir),
              size: [size, size],
              channels: 3,
              train: { batch, optimizer: 'adam', weight_decay: 0 },
              methods: [methods.stl, methods.aft],
              psiWidth: PSI_WIDTH,
              rows: { train: 2 * batch, eval: batch },
              fusedKernels: fusedKernelsReady(tf),
            }).tensorBytes /
              2 ** 20,
          ),
        }),
  };
}
