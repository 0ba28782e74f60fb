/**
 * Built-in experiment templates: the demo that `aft demo` runs and that "AFT: New Experiment"
 * offers first. Kept as text so the user gets exactly the file that runs.
 */
export interface Template {
  id: string;
  title: string;
  fileName: string;
  text: string;
}

export const MNIST_DEMO: Template = {
  id: 'mnist-demo',
  title: 'MNIST low-data: STL vs KD vs AFT',
  fileName: 'mnist-demo.aft.yaml',
  text: `# MNIST low-data demo: a small MLP learns from 500 labelled digits, helped by a larger
# model pre-trained on 6,000 other digits, next to a pure-noise source of the same width.
# AFT should keep the teacher's features (high ρ) and drop the noise (low ρ).
name: mnist-demo
dataset: { source: mnist, train: 500, test: 2000, split_seed: 0 }
pretrained:
  - { name: teacher, builtin: mnist-teacher }
  - { name: noise, noise: 256 }
downstream: { model: mlp, hidden: [128, 64], init: random }
methods: [stl, kd, aft]
beta: { kd: [0.1, 1, 10], aft: [1, 10, 100] }
train: { steps: 1000, batch: 128, optimizer: adam, lr: 1.0e-3, prior_lr: 1.0e-2, schedule: cosine, eval_every: 100 }
tune: { holdout: 0.1, split_seed: 0 }
seeds: [0, 1, 2]
backend: auto
`,
};

export const TEMPLATES: readonly Template[] = [MNIST_DEMO];
