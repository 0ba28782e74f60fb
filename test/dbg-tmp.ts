import { launch, openLiveDashboard, rendered } from '../webviews/harness/browser';
import { syntheticRun } from '../webviews/bench/synthetic';
void (async () => {
  const dir = syntheticRun({ steps: 20000, methods: ['stl', 'kd', 'aft'], seeds: [0, 1, 2] });
  const b = await launch();
  const t0 = performance.now();
  const live = await openLiveDashboard(b, dir, {});
  console.log('opened', performance.now() - t0);
  await rendered(live.page, 1, 60000);
  console.log('rendered', performance.now() - t0, live.sent.map((m) => m.type), live.problems);
  await live.close(); await b.close();
})();
