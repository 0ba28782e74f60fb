/**
 * The student architectures `model: pretrained` reads, by family, as the folder checks see them.
 * A folder's config.json names an architecture (timm: `architecture`; transformers:
 * `model_type`); the family that lists it reads it. The sidecar's registry
 * (sidecar/src/models/students/registry.ts) adds to each what builds, saves and exports it; a new
 * family is one module in each and one line in each list.
 */
import { badInput } from '../../common/util/errors';
import { closest } from '../../common/util/suggest';
import { bertSpec, distilbertSpec } from './bert';
import { effnetSpec } from './efficientnet';
import type { HubConfig, StudentSpec } from './family';
import { mixerSpec } from './mixer';
import { resnetSpec } from './resnet';
import { vitSpec } from './vit';

export const STUDENT_SPECS: readonly StudentSpec[] = [
  resnetSpec,
  vitSpec,
  mixerSpec,
  effnetSpec,
  bertSpec,
  distilbertSpec,
];

const known = (key: StudentSpec['configKey']): string[] =>
  STUDENT_SPECS.filter((f) => f.configKey === key).flatMap((f) => f.archs);

/** Every `architecture` a timm config.json may give, in the families' order. */
export const KNOWN_ARCHS: readonly string[] = known('architecture');
/** Every `model_type` a transformers config.json may give. */
export const KNOWN_MODEL_TYPES: readonly string[] = known('model_type');

/**
 * The family of a config.json and the architecture it names: transformers' `model_type` when the
 * file has one and no timm `architecture`, else timm's `architecture`; an unknown one is a
 * bad-input error listing the known ones (and the closest).
 */
export function familyOf<F extends StudentSpec>(
  config: HubConfig,
  file: string,
  families: readonly F[],
): { family: F; arch: string } {
  const key: StudentSpec['configKey'] =
    config.model_type !== undefined && config.architecture === undefined ? 'model_type' : 'architecture';
  const names = known(key);
  const arch = config[key];
  const other =
    key === 'architecture'
      ? ` (or, for a Hugging Face transformers folder, \`model_type\`: ${KNOWN_MODEL_TYPES.join(', ')})`
      : '';
  if (typeof arch !== 'string')
    throw badInput(`expected \`${key}\` (one of ${names.join(', ')})${other}, got ${JSON.stringify(arch)}`, {
      file,
      field: key,
    });
  const family = families.find((f) => f.configKey === key && f.archs.includes(arch));
  if (!family) {
    const near = closest(arch, names);
    throw badInput(
      `unknown ${key} \`${arch}\`${near ? ` (did you mean \`${near}\`?)` : ''}; the known ones are ${names.join(', ')}`,
      { file, field: key },
    );
  }
  return { family, arch };
}
