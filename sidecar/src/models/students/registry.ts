/**
 * The student architectures `model: pretrained` reads, by family. A folder's config.json names an
 * architecture (timm: `architecture`; transformers: `model_type`); the family that lists it
 * reads, builds, saves and exports it. A new family is one module here and one line below.
 */
import { badInput } from '../../../../core/common/util/errors';
import { closest } from '../../../../core/common/util/suggest';
import { bertFamily, distilbertFamily } from './bert';
import { effnetFamily } from './efficientnet';
import type { HubConfig, StudentFamily } from './family';
import { mixerFamily } from './mixer';
import { resnetFamily } from './resnet';
import { vitFamily } from './vit';

export const STUDENT_FAMILIES: readonly StudentFamily[] = [
  resnetFamily,
  vitFamily,
  mixerFamily,
  effnetFamily,
  bertFamily,
  distilbertFamily,
];

const known = (key: StudentFamily['configKey']): string[] =>
  STUDENT_FAMILIES.filter((f) => f.configKey === key).flatMap((f) => f.archs);

/** Every `architecture` a timm config.json may give, in the families' order. */
export const KNOWN_ARCHS: readonly string[] = known('architecture');
/** Every `model_type` a transformers config.json may give. */
export const KNOWN_MODEL_TYPES: readonly string[] = known('model_type');

/**
 * The family of a config.json and the architecture it names: transformers' `model_type` when the
 * file has one and no timm `architecture`, else timm's `architecture`; an unknown one is a
 * bad-input error listing the known ones (and the closest).
 */
export function familyOf(config: HubConfig, file: string): { family: StudentFamily; arch: string } {
  const key: StudentFamily['configKey'] =
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
  const family = STUDENT_FAMILIES.find((f) => f.configKey === key && f.archs.includes(arch));
  if (!family) {
    const near = closest(arch, names);
    throw badInput(
      `unknown ${key} \`${arch}\`${near ? ` (did you mean \`${near}\`?)` : ''}; the known ones are ${names.join(', ')}`,
      { file, field: key },
    );
  }
  return { family, arch };
}
