#!/usr/bin/env node
// Bundles the webview apps (run dashboard, comparison, experiments table, study) for the browser
// with esbuild: dist/webviews/{dashboard,compare,table,study}.{js,css}. Everything is bundled (uPlot, @vscode-elements,
// Lit); nothing is loaded from a network. The extension serves these files to its webviews and
// `aft report` inlines them into one HTML file. `--watch` rebuilds on change.
import { build, context } from 'esbuild';

const options = {
  entryPoints: {
    dashboard: 'webviews/src/dashboard/main.ts',
    compare: 'webviews/src/compare/main.ts',
    table: 'webviews/src/table/main.ts',
    study: 'webviews/src/study/main.ts',
  },
  outdir: 'dist/webviews',
  bundle: true,
  platform: 'browser',
  format: 'iife',
  // VS Code 1.90's webviews run Chromium 122.
  target: ['chrome114'],
  minify: !process.env.AFT_WEBVIEWS_DEV,
  sourcemap: false,
  legalComments: 'none',
  // The report inlines the bundle in a <script>; esbuild escapes `</script` in strings already,
  // and the report refuses a bundle that still contains it.
  logLevel: 'warning',
};

if (process.argv.includes('--watch')) {
  const ctx = await context(options);
  await ctx.watch();
  console.log('watching webviews/src');
} else {
  await build(options);
}
