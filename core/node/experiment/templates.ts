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

export const MNIST_NOISE_STUDY: Template = {
  id: 'mnist-noise-study',
  title: 'Study: noise robustness (paper fig 6b)',
  fileName: 'mnist-noise-study.aft.yaml',
  text: `# Noise robustness (paper fig 6b/c): the demo run once per width of the noise source. KD has to
# predict every feature of ψ, so it should fall towards STL as the noise grows; AFT should learn
# low ρ for the noise and barely move. Width 0 is the run without the noise source.
name: mnist-noise-study
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
study:
  vary: pretrained[1].noise
  values: [0, 64, 512, 2048]
`,
};

export const MNIST_ABLATION_STUDY: Template = {
  id: 'mnist-ablation-study',
  title: 'Study: AFT ablation (paper fig 7b)',
  fileName: 'mnist-ablation-study.aft.yaml',
  text: `# Ablation (paper fig 7b): AFT and its variants, with KD and STL for comparison, each value
# run on its own. A value names one of \`methods\` (or is a method itself): a new variant is one
# more entry there and one more value here.
name: mnist-ablation-study
dataset: { source: mnist, train: 500, test: 2000, split_seed: 0 }
pretrained:
  - { name: teacher, builtin: mnist-teacher }
  - { name: noise, noise: 256 }
downstream: { model: mlp, hidden: [128, 64], init: random }
methods:
  - stl
  - kd
  - aft
  - { name: aft-rbf, method: aft, kernel: rbf }
  - { name: aft-no-rho, method: aft, rho: identity }
  - { name: aft-dense-rho, method: aft, rho: dense }
  - aft-no-kernel
beta: { kd: [0.1, 1, 10], aft: [1, 10, 100], aft-rbf: [1, 10, 100], aft-no-rho: [1, 10, 100], aft-dense-rho: [1, 10, 100], aft-no-kernel: [1, 10, 100] }
train: { steps: 1000, batch: 128, optimizer: adam, lr: 1.0e-3, prior_lr: 1.0e-2, schedule: cosine, eval_every: 100 }
tune: { holdout: 0.1, split_seed: 0 }
seeds: [0, 1, 2]
backend: auto
study:
  vary: methods
  values: [aft, aft-rbf, aft-no-rho, aft-dense-rho, aft-no-kernel, kd, stl]
`,
};

export const TEMPLATES: readonly Template[] = [MNIST_DEMO, MNIST_NOISE_STUDY, MNIST_ABLATION_STUDY];
