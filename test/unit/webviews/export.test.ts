/** Exports: CSV quoting and formula guarding, SVG escaping, scene round trips. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { barsScene } from '../../../webviews/src/charts/barsScene';
import { sceneToSvg, escapeXml } from '../../../webviews/src/charts/scene';
import { FALLBACK_THEME, parseColor, ramp, rampIndex } from '../../../webviews/src/charts/theme';
import { csvField, toCsv } from '../../../core/common/view/csv';
import { RunAccumulator } from '../../../core/common/view/runAccumulator';
import type { MetricsRow } from '../../../core/common/runs/records';

describe('CSV', () => {
  const cases: [string | number | null | undefined, string][] = [
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ['+1', "'+1"],
    ['@cmd', "'@cmd"],
    [-0.5, '-0.5'],
    [NaN, ''],
    [null, ''],
    [undefined, ''],
  ];
  for (const [input, expected] of cases)
    it(`writes ${JSON.stringify(input)} as ${JSON.stringify(expected)}`, () => assert.equal(csvField(input), expected));

  it('writes a header and CRLF rows', () => {
    assert.equal(
      toCsv(
        ['a', 'b'],
        [
          [1, 'x'],
          [2, 'y,z'],
        ],
      ),
      'a,b\r\n1,x\r\n2,"y,z"\r\n',
    );
  });
});

describe('SVG export', () => {
  it('escapes names from run files so they stay text', () => {
    const evil = '</text><script>alert(1)</script>&"\'';
    const svg = sceneToSvg(
      barsScene(
        [{ method: evil, mean: 0.9, se: 0.01, perSeed: [{ seed: '0', value: 0.9 }], color: '#123456' }],
        FALLBACK_THEME,
      ),
    );
    assert.ok(!svg.includes('<script'), 'no script element');
    assert.ok(svg.includes('&lt;/text&gt;&lt;script&gt;'));
    assert.equal(svg.match(/<svg /g)?.length, 1);
    assert.ok(svg.includes('data-bar="&lt;/text&gt;'), 'data attributes escaped too');
  });

  it('drops control characters XML cannot hold', () => assert.equal(escapeXml('a\u0001b\u0008c'), 'abc'));

  it('draws one bar per method', () => {
    const bars = ['stl', 'kd', 'aft'].map((m, i) => ({
      method: m,
      mean: 0.85 + i / 100,
      se: 0.003,
      perSeed: [],
      color: '#000',
    }));
    const svg = sceneToSvg(barsScene(bars, FALLBACK_THEME));
    assert.equal(svg.match(/data-bar=/g)?.length, 3);
  });
});

describe('theme colours', () => {
  it('parses the forms VS Code uses', () => {
    assert.deepEqual(parseColor('#fff'), [255, 255, 255]);
    assert.deepEqual(parseColor('#1a85ffcc'), [26, 133, 255]);
    assert.deepEqual(parseColor('rgb(1, 2, 3)'), [1, 2, 3]);
    assert.deepEqual(parseColor('rgba(1,2,3,0.5)'), [1, 2, 3]);
    assert.equal(parseColor('var(--x)'), undefined);
  });

  it('ramps from near the background to the accent', () => {
    const r = ramp({ ...FALLBACK_THEME, background: '#000000', foreground: '#ffffff', accent: '#0000ff' }, 3);
    assert.equal(r.length, 3);
    assert.equal(r[2], 'rgb(0,0,255)');
    assert.notEqual(r[0], 'rgb(0,0,0)', 'zero is not invisible');
    assert.equal(rampIndex(0.5, 0, 1, 3), 1);
    assert.equal(rampIndex(NaN, 0, 1, 3), 0);
    assert.equal(rampIndex(9, 0, 1, 3), 2);
  });
});

describe('full-resolution curves CSV (the host side of "CSV" on a curves chart)', () => {
  it('writes every logged row, not the downsampled points the webview holds', () => {
    const acc = new RunAccumulator('r', '/r', 100);
    const rows: MetricsRow[] = [];
    for (let step = 1; step <= 5000; step++) {
      for (const method of ['stl', 'aft'])
        rows.push({
          method,
          seed: 0,
          beta: method === 'aft' ? 10 : 0,
          phase: 'final',
          step,
          epoch: step,
          ce: 1 / step,
          reg: 0,
          loss: step === 7 ? NaN : 1 / step,
          trainAccuracy: 0.5,
          evalAccuracy: 0.5,
          lr: 0.001,
          timestamp: 0,
        });
    }
    acc.apply({ rows, rho: [] });
    const view = acc.snapshot();
    assert.ok(
      view.series.every((s) => s.curves.loss.step.length <= 100),
      'the webview gets at most maxPoints',
    );
    const csv = acc.curvesCsv(
      [
        { series: 'aft/0/final/10', curve: 'loss' },
        { series: 'stl/0/final/0', curve: 'ce' },
        { series: 'nope', curve: 'loss' },
      ],
      () => assert.fail('everything is here at full resolution'),
    );
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], 'method,seed,phase,beta,curve,step,value');
    assert.equal(lines.length, 1 + 2 * 5000, 'every row of both curves; the unknown series is left out');
    assert.equal(lines[1], 'aft,0,final,10,loss,1,1');
    assert.equal(lines[7], 'aft,0,final,10,loss,7,', 'a NaN (diverged) value is an empty cell');
    assert.equal(lines[5001], 'stl,0,final,0,ce,1,1');
  });
});
