/**
 * The student architectures `model: pretrained` reads, by family. A folder's config.json names an
 * architecture; the family that lists it reads, builds, saves and exports it. A new family (text
 * students, say) is one module here and one line below.
 */
import { badInput } from '../../../../core/common/util/errors';
import { closest } from '../../../../core/common/util/suggest';
import { effnetFamily } from './efficientnet';
import type { StudentFamily } from './family';
import { mixerFamily } from './mixer';
import { resnetFamily } from './resnet';
import { vitFamily } from './vit';

export const STUDENT_FAMILIES: readonly StudentFamily[] = [resnetFamily, vitFamily, mixerFamily, effnetFamily];

/** Every architecture name a config.json may give, in the families' order. */
export const KNOWN_ARCHS: readonly string[] = STUDENT_FAMILIES.flatMap((f) => f.archs);

/** The family of `arch`, or a bad-input error listing every known architecture (and the closest). */
export function familyOf(arch: unknown, file: string): StudentFamily {
  if (typeof arch !== 'string')
    throw badInput(`expected \`architecture\` (one of ${KNOWN_ARCHS.join(', ')}), got ${JSON.stringify(arch)}`, {
      file,
      field: 'architecture',
    });
  const family = STUDENT_FAMILIES.find((f) => f.archs.includes(arch));
  if (!family) {
    const near = closest(arch, [...KNOWN_ARCHS]);
    throw badInput(
      `unknown architecture \`${arch}\`${near ? ` (did you mean \`${near}\`?)` : ''}; the known ones are ${KNOWN_ARCHS.join(', ')}`,
      { file, field: 'architecture' },
    );
  }
  return family;
}
