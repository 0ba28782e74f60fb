/** Dataset specs with defaults filled in, as the experiment schema would give them. */
import {
  datasetSchema,
  type ImageDatasetSpec,
  type PairedDatasetSpec,
  type TextDatasetSpec,
} from '../../core/node/experiment/schema';

export function imageDatasetSchemaForTests(v: Record<string, unknown>): ImageDatasetSpec {
  return datasetSchema.parse(v) as ImageDatasetSpec;
}

export function textDatasetSchemaForTests(v: Record<string, unknown>): TextDatasetSpec {
  return datasetSchema.parse(v) as TextDatasetSpec;
}

export function pairedDatasetSchemaForTests(v: Record<string, unknown>): PairedDatasetSpec {
  return datasetSchema.parse(v) as PairedDatasetSpec;
}
