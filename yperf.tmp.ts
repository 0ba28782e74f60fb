import { validateExperimentText } from './sidecar/src/experiment/validate';
function t(label: string, text: string) {
  const s = performance.now();
  let r: unknown;
  try { r = validateExperimentText(text, '/tmp').problems.slice(0, 2).map((p) => `${p.line}:${p.column} ${p.message.slice(0, 100)}`); } catch (e) { r = 'THREW ' + String(e).slice(0, 200); }
  console.log(label, (performance.now() - s).toFixed(1), 'ms', JSON.stringify(r));
}
const demo = require('fs').readFileSync('test/fixtures/experiments/valid/mnist-demo.aft.yaml', 'utf8');
t('demo warm', demo); t('demo', demo); t('demo', demo);
t('typos', require('fs').readFileSync('test/fixtures/experiments/invalid/typos.aft.yaml', 'utf8'));
t('typos', require('fs').readFileSync('test/fixtures/experiments/invalid/typos.aft.yaml', 'utf8'));
for (const d of [1000, 10000, 100000]) t('flow depth ' + d, 'a: ' + '['.repeat(d) + ']'.repeat(d));
for (const d of [1000, 10000]) { let s = ''; for (let i = 0; i < d; i++) s += ' '.repeat(i) + 'k:\n'; t('block depth ' + d, s); }
for (const d of [1000, 10000]) { let s = ''; for (let i = 0; i < d; i++) s += ' '.repeat(i) + '- \n'; t('seq depth ' + d, s); }
for (const d of [100000]) t('flow unclosed ' + d, 'a: ' + '['.repeat(d));
for (const d of [100000]) t('flow map depth ' + d, 'a: ' + '{a: '.repeat(d) + '}'.repeat(d));
const bin = Buffer.alloc(1 << 20); for (let i = 0; i < bin.length; i++) bin[i] = (i * 2654435761) >>> 24;
t('binary 1MB', bin.toString('utf8'));
t('10MB lines', 'x: ' + 'a'.repeat(10) + '\n' + ('# ' + 'c'.repeat(60) + '\n').repeat(160000));
let big = demo; while (big.length < 1e6) big += `\nk${big.length}: [1, 2, 3, {a: b}]`; t('1MB keys', big);
let big10 = ''; for (let i = 0; big10.length < 1e7; i++) big10 += `k${i}: [1, 2, 3, {a: b}]\n`; t('10MB keys', big10);
const bomb = 'a: &a [x,x,x,x,x,x,x,x,x]\n' + Array.from({length: 30}, (_, i) => `${String.fromCharCode(98+ (i%20))}${i}: &${'l'+i} [${Array(9).fill('*' + (i ? 'l'+(i-1) : 'a')).join(',')}]`).join('\n');
t('alias bomb', bomb);
