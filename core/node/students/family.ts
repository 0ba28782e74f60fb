/**
 * What a family of pre-trained student architectures (ResNet, ViT, MLP-Mixer, …) says about a
 * folder without building anything: its shape from config.json and the safetensors header, the
 * state dict it expects, its input and its activations. The checks of a folder (hubFolder.ts) need
 * only this, so the language server runs them without TensorFlow.js; the sidecar's families
 * (sidecar/src/models/students/) add what builds, initialises and exports a model. timm's
 * families are named by config.json's `architecture`, transformers' (BERT, DistilBERT) by its
 * `model_type`.
 */
import type { StEntry } from '../io/safetensors';
import type { ActivationCount } from './activations';
import type { TimmPretrainedCfg } from './timmPreprocess';

/** config.json as timm writes it (the fields read here; the rest is kept as it is on save). */
export interface HubConfig {
  architecture?: unknown;
  num_classes?: unknown;
  num_features?: unknown;
  global_pool?: unknown;
  /** timm passes these to the model's constructor (`create_model(**model_args)`). */
  model_args?: unknown;
  pretrained_cfg?: TimmPretrainedCfg & {
    num_classes?: unknown;
    classifier?: unknown;
    first_conv?: unknown;
    fixed_input_size?: unknown;
  };
  [key: string]: unknown;
}

/** Every family's shape names its architecture and classes; the rest is the family's own. */
export interface StudentShape {
  arch: string;
  numClasses: number;
}

/**
 * What one example is. Images arrive NHWC in the engine ([N, H, W, C]) and NCHW in `aft predict`
 * (as the PyTorch module takes them); `size` is set when the weights fix it (a ViT's position
 * embeddings, a Mixer's token MLPs). Tokens are ids [T] (as floats in the engine, -1 where a
 * sequence is padded), tokenised with the folder's own `tokenizer`; T is at most `maxLength`.
 */
export type StudentInput =
  | { kind: 'image'; channels: number; size?: [number, number] }
  | { kind: 'tokens'; vocab: number; maxLength: number; padId: number; tokenizer: string };

/** One state-dict entry in PyTorch's layout and order. */
export interface StateEntry {
  key: string;
  shape: number[];
  /** `param` is trained; `buffer` is saved but not trained; `counter` is an int64 buffer that may be absent (read as 0). */
  kind: 'param' | 'buffer' | 'counter';
}

/** Where the folder's files are, for messages. */
export interface HubFiles {
  config: string;
  weights: string;
}

export interface StudentSpec<S extends StudentShape = StudentShape> {
  /** Short name, for messages and the export's metadata: `resnet`, `vit`, `mixer`, `bert`, `distilbert`. */
  name: string;
  /** Which field of config.json names the architecture: timm's `architecture` or transformers' `model_type`. */
  configKey: 'architecture' | 'model_type';
  /** The values of `configKey` this family reads. */
  archs: readonly string[];
  /** What timm's config.json says for this family (checked when present); timm families only. */
  timm?: { globalPool: string; classifier: string; firstConv: string };
  /**
   * The classes the folder's config and weights agree on, 0 for a bare encoder without a head;
   * a contradiction is a bad-input error. Families without it use timm's `num_classes`.
   */
  numClassesOf?(config: HubConfig, tensors: Record<string, StEntry>, files: HubFiles): number;
  /** Tensors a folder may hold that the library itself drops on load (a pre-training head, a derived buffer). */
  ignored?(key: string): boolean;
  /** config.json of a trained student (default: timm's, `num_classes` updated). */
  savedConfig?(config: HubConfig, s: S, headReinitialised: boolean): HubConfig;
  /** Files the folder must have besides config.json and the weights, why, and how to add them. */
  requiredFiles?: readonly { name: string; why: string; hint: string }[];
  /** Files of the folder that a saved student carries over as they are (its tokenizer). */
  companions?: readonly string[];
  /** The classifier's weight ([classes, features]) and bias. */
  head: { weight: string; bias: string };
  /**
   * The shape of `arch` from config.json and the tensors' names and shapes (no data read), or
   * a bad-input error naming the field or tensor that contradicts the rest (the tensors are
   * checked against `stateShapes` after, the rest of the config by `checkConfig`). Called also with
   * other architectures to find the one the weights belong to, so it must not have side effects.
   */
  shapeOf(arch: string, config: HubConfig, tensors: Record<string, StEntry>, numClasses: number, files: HubFiles): S;
  /** The rest of config.json against the weights (`num_features`, input channels, …), after the tensors are checked. */
  checkConfig(s: S, config: HubConfig, files: HubFiles): void;
  /** Every state-dict entry, in PyTorch's order, with PyTorch's shapes. */
  stateShapes(s: S): StateEntry[];
  /** Width of φ. */
  features(s: S): number;
  input(s: S): StudentInput;
  /** A few words on the shape for messages ("resnet18 of width 8"). */
  describe(s: S): string;
  /**
   * The activations of one example at an input of `size` (height, width; a text student's
   * [tokens, 1]), counted from the shape (activations.ts), for the memory estimate; a family
   * without it is estimated without them.
   */
  activations?(s: S, size: [number, number]): ActivationCount;
}
