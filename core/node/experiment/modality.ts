/**
 * Which half of a paired (image + text) example an `onnx` source reads: its `modality`, else
 * what its files say (a tokenizer.json and no preprocessor_config.json: text; the other way
 * round: image). Shared by the editor's checks and the engine, so they never disagree.
 */
import type { Modality } from './schema';

export interface ModalityFiles {
  /** The source names a tokenizer.json (`tokenizer`) or its folder has one. */
  tokenizer: boolean;
  /** Its folder has a preprocessor_config.json. */
  preprocessor: boolean;
}

/** The modality, or undefined when the files cannot tell (both or neither) and the file does not say. */
export function sourceModality(spec: { modality?: Modality }, files: ModalityFiles): Modality | undefined {
  if (spec.modality) return spec.modality;
  if (files.tokenizer && !files.preprocessor) return 'text';
  if (files.preprocessor && !files.tokenizer) return 'image';
  return undefined;
}

export function modalityUnknownMessage(files: ModalityFiles): string {
  const found = files.tokenizer
    ? 'both a tokenizer.json and a preprocessor_config.json'
    : 'neither a tokenizer.json nor a preprocessor_config.json';
  return `with a paired dataset each onnx source reads the images or the texts; this model has ${found}: set \`modality: image\` or \`modality: text\``;
}
