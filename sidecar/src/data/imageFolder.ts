/**
 * Image-folder datasets: one subfolder per class (PNG, JPEG, WebP), split by `split`, or `train/`
 * and `test/` folders with the same class subfolders. Images are decoded and resized with sharp
 * for the downstream model (covering `size`, centre-cropped, 0..1), or, for a pre-trained
 * student, prepared as its config says by the same code that prepares them for the ONNX models
 * (features/imagePreprocess.ts); the file paths stay with the dataset so that each pre-trained
 * model can preprocess the originals its own way. Unreadable images fail with their names, or
 * are skipped and counted when the experiment says so.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImageDatasetSpec } from '../../../core/node/experiment/schema';
import { preprocessImageInto, type ImagePreprocess } from '../features/imagePreprocess';
import { decodeImage } from '../runtime/images';
import { badInput } from '../../../core/common/util/errors';
import { mapLimit } from '../util/pool';
import type { Dataset, Split } from './dataset';
import { splitIndices } from './split';

const IMAGE = /\.(png|jpe?g|webp)$/i;

/** Whether a file name is one of the image kinds an image folder holds. */
export const isImageFile = (name: string): boolean => IMAGE.test(name);

interface Listed {
  files: string[];
  labels: number[];
  ignored: number;
}

function subfolders(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

/** Files of each class folder, classes in the given order; an empty class is an error. */
function listClasses(dir: string, classes: string[], field: string): Listed {
  const out: Listed = { files: [], labels: [], ignored: 0 };
  classes.forEach((c, label) => {
    const cdir = path.join(dir, c);
    const names = fs.existsSync(cdir)
      ? fs
          .readdirSync(cdir, { withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => e.name)
          .sort()
      : [];
    const images = names.filter((n) => IMAGE.test(n));
    out.ignored += names.length - images.length;
    if (images.length === 0)
      throw badInput(`class folder '${c}' has no images (PNG, JPEG or WebP)`, { file: cdir, field });
    for (const n of images) {
      out.files.push(path.join(cdir, n));
      out.labels.push(label);
    }
  });
  return out;
}

export interface Decoded {
  split: Split;
  files: string[];
  hash: string;
}

/** What the downstream model reads: `size` covered, 0..1 (the default), or a student's own preprocessing. */
export type StudentImages =
  | { kind: 'size'; height: number; width: number; channels: 1 | 3 }
  | { kind: 'preprocess'; preprocess: ImagePreprocess };

export function studentShape(s: StudentImages): [number, number, 1 | 3] {
  return s.kind === 'size'
    ? [s.height, s.width, s.channels]
    : [s.preprocess.height, s.preprocess.width, s.preprocess.channels];
}

/** One image as the downstream model reads it (H×W×C), written into `out` at `offset`. */
export async function prepareStudentImage(
  bytes: Uint8Array,
  student: StudentImages,
  out: Float32Array,
  offset: number,
): Promise<void> {
  if (student.kind === 'preprocess') return preprocessImageInto(bytes, student.preprocess, out, offset);
  const [h, w, channels] = studentShape(student);
  const img = await decodeImage(bytes, channels, { mode: 'cover', width: w, height: h });
  for (let j = 0; j < h * w * channels; j++) out[offset + j] = img.data[j] / 255;
}

/**
 * Decodes `listed` files as `student` says, in order; files that cannot be read or decoded are
 * left out and pushed onto `bad`. `hash` covers labels, paths relative to `root` and bytes.
 */
export async function decodeAll(
  listed: { files: string[]; labels: number[] },
  student: StudentImages,
  root: string,
  bad: { file: string; reason: string }[],
): Promise<Decoded> {
  const [h, w, channels] = studentShape(student);
  const width = h * w * channels;
  const all = new Float32Array(listed.files.length * width);
  const results = await mapLimit(listed.files, 8, async (file, i) => {
    try {
      const bytes = await fs.promises.readFile(file);
      await prepareStudentImage(bytes, student, all, i * width);
      return bytes;
    } catch (e) {
      bad.push({ file, reason: ((e as Error).message.split('\n')[0] ?? '').trim() });
      return undefined;
    }
  });
  const keep = results.flatMap((r, i) => (r ? [i] : []));
  const x = keep.length === listed.files.length ? all : new Float32Array(keep.length * width);
  const y = new Int32Array(keep.length);
  const hash = createHash('sha256');
  keep.forEach((i, row) => {
    if (x !== all) x.set(all.subarray(i * width, (i + 1) * width), row * width);
    y[row] = listed.labels[i]!;
    hash.update(`${listed.labels[i]}\0${path.relative(root, listed.files[i])}\0`).update(results[i]!);
  });
  return { split: { n: keep.length, x, y }, files: keep.map((i) => listed.files[i]), hash: hash.digest('hex') };
}

function pick(l: Listed, idx: number[]): { files: string[]; labels: number[] } {
  return { files: idx.map((i) => l.files[i]), labels: idx.map((i) => l.labels[i]) };
}

/**
 * `student`: how the downstream model's inputs are made (default: `spec.size` covered, 0..1,
 * grey when `spec.grayscale`).
 */
export async function loadImageFolder(
  spec: ImageDatasetSpec,
  baseDir: string,
  log: (m: string) => void = () => {},
  student?: StudentImages,
): Promise<Dataset> {
  const images: StudentImages = student ?? {
    kind: 'size',
    height: spec.size[0],
    width: spec.size[1],
    channels: spec.grayscale ? 1 : 3,
  };
  const root = path.resolve(baseDir, spec.folder);
  const field = 'dataset.folder';
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory())
    throw badInput('image folder not found', { file: root, field });
  const top = subfolders(root);
  let classes: string[];
  let train: { files: string[]; labels: number[] };
  let test: { files: string[]; labels: number[] };
  let ignored = 0;
  if (top.includes('train') && top.includes('test')) {
    classes = subfolders(path.join(root, 'train'));
    const extra = subfolders(path.join(root, 'test')).filter((c) => !classes.includes(c));
    if (extra.length)
      throw badInput(`test/ has class folders that train/ lacks: ${extra.join(', ')}`, {
        file: path.join(root, 'test'),
        field,
      });
    const tr = listClasses(path.join(root, 'train'), classes, field);
    const te = listClasses(
      path.join(root, 'test'),
      classes.filter((c) => fs.existsSync(path.join(root, 'test', c))),
      field,
    );
    // Test labels index the train classes, whichever of them test/ has.
    const testClasses = classes.filter((c) => fs.existsSync(path.join(root, 'test', c)));
    te.labels = te.labels.map((l) => classes.indexOf(testClasses[l]));
    train = tr;
    test = te;
    ignored = tr.ignored + te.ignored;
  } else {
    classes = top;
    if (classes.length < 2)
      throw badInput(
        `expected one subfolder per class (at least two), found ${classes.length ? `only '${classes[0]}'` : 'none'}`,
        { file: root, field },
      );
    const all = listClasses(root, classes, field);
    const idx = splitIndices(
      all.labels,
      all.files.map((f) => path.relative(root, f)),
      spec,
    );
    train = pick(all, idx.train);
    test = pick(all, idx.test);
    ignored = all.ignored;
  }
  if (spec.train_limit !== undefined && train.files.length > spec.train_limit) {
    train = { files: train.files.slice(0, spec.train_limit), labels: train.labels.slice(0, spec.train_limit) };
  }
  if (ignored) log(`image folder: ignored ${ignored} file${ignored === 1 ? '' : 's'} that are not PNG, JPEG or WebP`);
  const bad: { file: string; reason: string }[] = [];
  const tr = await decodeAll(train, images, root, bad);
  const te = await decodeAll(test, images, root, bad);
  if (bad.length) {
    const list = bad.map((b) => `${path.relative(root, b.file)}: ${b.reason}`);
    if (spec.unreadable === 'fail') {
      throw badInput(
        `${bad.length} image${bad.length === 1 ? '' : 's'} could not be decoded (set \`unreadable: skip\` to leave them out)`,
        { file: root, field },
        list.slice(0, 20).concat(list.length > 20 ? [`… and ${list.length - 20} more`] : []),
      );
    }
    log(`image folder: skipped ${bad.length} unreadable image${bad.length === 1 ? '' : 's'} (first: ${list[0]})`);
  }
  for (const [name, s] of [
    ['train', tr],
    ['test', te],
  ] as const) {
    if (s.split.n === 0) throw badInput(`the ${name} split has no readable images`, { file: root, field });
    const counts = new Int32Array(classes.length);
    for (const v of s.split.y) counts[v]++;
    const empty = name === 'train' ? classes.filter((_, c) => counts[c] === 0) : [];
    if (empty.length)
      throw badInput(
        `class${empty.length > 1 ? 'es' : ''} ${empty.join(', ')} ha${empty.length > 1 ? 've' : 's'} no readable training images`,
        { file: root, field },
      );
  }
  return {
    name: path.basename(root),
    inputShape: studentShape(images),
    numClasses: classes.length,
    train: tr.split,
    test: te.split,
    raw: { kind: 'images', train: tr.files, test: te.files },
    contentHash: { train: tr.hash, test: te.hash },
  };
}
