import type { BuildOptions, Metafile } from 'esbuild';

export const languageServerBuild: BuildOptions & { metafile: true };
export function forbiddenInputs(metafile: Metafile): string[];
