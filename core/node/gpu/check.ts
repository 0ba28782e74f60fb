/**
 * What the GPU runtime needs and what a machine has, as pure functions of what was read there
 * (the output of `nvidia-smi` and `ldconfig -p` as text, the LD_LIBRARY_PATH folders' file
 * names, the WebGPU adapter), so that every verdict is testable from data. probe.ts reads a real
 * machine; `aft gpu check` and AFT: Install GPU Runtime print the report.
 *
 * - tfjs-node-gpu 4.22 (the `gpu` backend) runs libtensorflow 2.9.1, built for CUDA 11.2 and
 *   cuDNN 8.1: it loads CUDA 11's libraries by their sonames (libcudart.so.11.0, libcublas.so.11,
 *   ...) and cuDNN 8 (libcudnn.so.8), and needs a driver for CUDA 11.2 or newer.
 * - onnxruntime-node 1.30's CUDA provider (extraction's `cuda` device) is built for CUDA 12.x and
 *   cuDNN 9: libcudart.so.12, libcublas.so.12, libcudnn.so.9, ..., and a driver for CUDA 12.
 * - webgpu (training and extraction) needs a WebGPU adapter that is a GPU (Dawn on Vulkan, Metal
 *   or D3D12), nothing from CUDA.
 * A newer driver runs older CUDA runtimes: the driver's CUDA version is a minimum, the
 * libraries' major versions must match.
 */
import type { GpuAdapterInfo } from '../../common/protocol/rpc';
import { ONNXRUNTIME_NODE_VERSION, TFJS_NODE_GPU_VERSION } from './runtime';

/** A CUDA library a build loads, by soname, and where a user gets it. */
export interface NeededLibrary {
  soname: string;
  what: string;
  /** Lowest full version accepted, where the soname alone does not say it (11.2 of libcudart.so.11.0). */
  min?: string;
  apt: string;
  pip: string;
}

export interface GpuBuild {
  id: 'tfjs-node-gpu' | 'onnxruntime-cuda';
  /** What it is, for the report. */
  title: string;
  /** The driver's CUDA version (nvidia-smi's "CUDA Version") must be at least this. */
  driverCuda: string;
  cuda: string;
  cudnn: string;
  libs: NeededLibrary[];
}

export const TFJS_NODE_GPU_NEEDS: GpuBuild = {
  id: 'tfjs-node-gpu',
  title: `@tensorflow/tfjs-node-gpu ${TFJS_NODE_GPU_VERSION} (libtensorflow 2.9.1: CUDA 11.2, cuDNN 8.1)`,
  driverCuda: '11.2',
  cuda: '11.2 (any 11.x from 11.2)',
  cudnn: '8.1 (any 8.x from 8.1)',
  libs: [
    {
      soname: 'libcudart.so.11.0',
      what: 'CUDA 11 runtime',
      min: '11.2',
      apt: 'cuda-cudart-11-8',
      pip: 'nvidia-cuda-runtime-cu11',
    },
    { soname: 'libcublas.so.11', what: 'cuBLAS, CUDA 11', apt: 'libcublas-11-8', pip: 'nvidia-cublas-cu11' },
    { soname: 'libcublasLt.so.11', what: 'cuBLASLt, CUDA 11', apt: 'libcublas-11-8', pip: 'nvidia-cublas-cu11' },
    { soname: 'libcufft.so.10', what: 'cuFFT, CUDA 11', apt: 'libcufft-11-8', pip: 'nvidia-cufft-cu11' },
    { soname: 'libcurand.so.10', what: 'cuRAND', apt: 'libcurand-11-8', pip: 'nvidia-curand-cu11' },
    { soname: 'libcusolver.so.11', what: 'cuSOLVER, CUDA 11', apt: 'libcusolver-11-8', pip: 'nvidia-cusolver-cu11' },
    { soname: 'libcusparse.so.11', what: 'cuSPARSE, CUDA 11', apt: 'libcusparse-11-8', pip: 'nvidia-cusparse-cu11' },
    { soname: 'libcudnn.so.8', what: 'cuDNN 8', min: '8.1', apt: 'libcudnn8', pip: "'nvidia-cudnn-cu11==8.9.*'" },
  ],
};

export const ONNX_CUDA_NEEDS: GpuBuild = {
  id: 'onnxruntime-cuda',
  title: `onnxruntime-node ${ONNXRUNTIME_NODE_VERSION}'s CUDA provider (CUDA 12.x, cuDNN 9)`,
  driverCuda: '12.0',
  cuda: '12.x',
  cudnn: '9.x',
  libs: [
    { soname: 'libcudart.so.12', what: 'CUDA 12 runtime', apt: 'cuda-cudart-12-8', pip: 'nvidia-cuda-runtime-cu12' },
    { soname: 'libcublas.so.12', what: 'cuBLAS, CUDA 12', apt: 'libcublas-12-8', pip: 'nvidia-cublas-cu12' },
    { soname: 'libcublasLt.so.12', what: 'cuBLASLt, CUDA 12', apt: 'libcublas-12-8', pip: 'nvidia-cublas-cu12' },
    { soname: 'libcufft.so.11', what: 'cuFFT, CUDA 12', apt: 'libcufft-12-8', pip: 'nvidia-cufft-cu12' },
    { soname: 'libcurand.so.10', what: 'cuRAND', apt: 'libcurand-12-8', pip: 'nvidia-curand-cu12' },
    { soname: 'libcudnn.so.9', what: 'cuDNN 9', apt: 'libcudnn9-cuda-12', pip: 'nvidia-cudnn-cu12' },
  ],
};

// ---------------------------------------------------------------------------------------------
// Parsing what the machine says

export interface NvidiaSmi {
  driverVersion?: string;
  /** The newest CUDA version the driver supports. */
  cudaVersion?: string;
  gpus: string[];
}

/** `nvidia-smi`'s default output: the header's driver and CUDA versions, and the GPUs' names. */
export function parseNvidiaSmi(text: string): NvidiaSmi {
  const driverVersion = /Driver Version:\s*([\d.]+)/.exec(text)?.[1];
  const cudaVersion = /CUDA Version:\s*([\d.]+)/.exec(text)?.[1];
  const gpus: string[] = [];
  // The table's first row per GPU: "|   0  NVIDIA H200                    On  |   00000000:...".
  for (const m of text.matchAll(/^\|\s+(\d+)\s+(.+?)\s+(?:On|Off)\s+\|/gm)) gpus.push(m[2].trim());
  return { ...(driverVersion ? { driverVersion } : {}), ...(cudaVersion ? { cudaVersion } : {}), gpus };
}

/** A shared library the dynamic linker can find. */
export interface FoundLibrary {
  /** The name a program asks for (libcudnn.so.9). */
  soname: string;
  path: string;
  /** The full version, from the file the name leads to (libcudnn.so.9.1.0 → 9.1.0), when known. */
  version?: string;
  /** Where it was found: `ldconfig` or `LD_LIBRARY_PATH`. */
  from: 'ldconfig' | 'LD_LIBRARY_PATH';
}

const CUDA_LIB = /^(lib(?:cudart|cublas|cublasLt|cufft|curand|cusolver|cusparse|cudnn)\.so(?:\.\d+)+)$/;

/** The version in a library's file name past its soname's (libcudart.so.12.4.127 → 12.4.127). */
export function versionOfFile(file: string): string | undefined {
  return /\.so\.(\d+(?:\.\d+)*)$/.exec(file)?.[1];
}

/**
 * `ldconfig -p`: the CUDA libraries in the linker's cache, 64-bit x86 only on x64 (an i386 copy
 * cannot be loaded). `realPaths` maps a listed path to the file it leads to (for full versions).
 */
export function parseLdconfig(text: string, realPaths: Record<string, string> = {}, arch = 'x64'): FoundLibrary[] {
  const out: FoundLibrary[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S.*?)\s*$/.exec(line);
    if (!m || !CUDA_LIB.test(m[1])) continue;
    if (arch === 'x64' && !/x86-64/.test(m[2])) continue;
    out.push(withVersion({ soname: m[1], path: m[3], from: 'ldconfig' }, realPaths));
  }
  return out;
}

/** The CUDA libraries in the LD_LIBRARY_PATH folders (their file names as listed). */
export function librariesInFolders(
  folders: { dir: string; files: string[] }[],
  realPaths: Record<string, string> = {},
): FoundLibrary[] {
  const out: FoundLibrary[] = [];
  for (const { dir, files } of folders) {
    for (const f of files) {
      if (!CUDA_LIB.test(f)) continue;
      out.push(withVersion({ soname: f, path: `${dir.replace(/\/+$/, '')}/${f}`, from: 'LD_LIBRARY_PATH' }, realPaths));
    }
  }
  return out;
}

function withVersion(lib: FoundLibrary, realPaths: Record<string, string>): FoundLibrary {
  const real = realPaths[lib.path];
  const base = real ? real.split('/').pop()! : lib.soname;
  const version = versionOfFile(base);
  // A version no longer than the soname's says nothing more than the soname does.
  return version && version.split('.').length > (versionOfFile(lib.soname)?.split('.').length ?? 0)
    ? { ...lib, version }
    : lib;
}

/** Compares dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/** Everything the check reads from a machine, as data. */
export interface GpuFacts {
  platform: string;
  arch: string;
  /** `nvidia-smi`'s output, or why there is none (not installed, failed). */
  nvidiaSmi: { output: string } | { error: string };
  /** `ldconfig -p`'s output, or why there is none. */
  ldconfig: { output: string } | { error: string };
  /** The LD_LIBRARY_PATH folders and the file names in each. */
  ldLibraryPath: { dir: string; files: string[] }[];
  /** Listed library path → the file it leads to. */
  realPaths?: Record<string, string>;
  /** The tfjs-node-gpu the sidecar would load, or why none. */
  tfjsNodeGpu: { version: string; dir: string; libtensorflow: boolean; binding: boolean } | { missing: string };
  /** Whether the onnxruntime-node the sidecar loads has its CUDA provider (and where), or why not. */
  onnxCuda: { dir: string } | { missing: string };
  /** The WebGPU adapter, or why there is none; undefined where it was not looked for. */
  webgpu?: { adapter: GpuAdapterInfo } | { error: string };
}

export type VerdictId = 'gpu' | 'onnx-cuda' | 'webgpu';

export interface Verdict {
  id: VerdictId;
  /** What the verdict is about, for people. */
  title: string;
  usable: boolean;
  /** One line: what runs, or what stops it. */
  summary: string;
  /** Each thing that stops it. */
  problems: string[];
  /** What to install or do, one item each (empty when usable). */
  todo: string[];
  /** Skipped: not looked for here (the extension does not start WebGPU in its own process). */
  unchecked?: boolean;
}

export interface GpuReport {
  driver?: NvidiaSmi;
  driverError?: string;
  libraries: FoundLibrary[];
  librariesError?: string;
  adapter?: GpuAdapterInfo;
  verdicts: Verdict[];
  /** Every verdict that was checked says usable. */
  allUsable: boolean;
}

/** The best library found for a soname: the ldconfig or LD_LIBRARY_PATH entry with the highest known version. */
function pick(libs: FoundLibrary[], soname: string): FoundLibrary | undefined {
  const all = libs.filter((l) => l.soname === soname);
  return all.sort((a, b) => compareVersions(b.version ?? '0', a.version ?? '0'))[0];
}

/** Problems of one CUDA build on this machine (driver and libraries), with what to install. */
function cudaProblems(
  build: GpuBuild,
  driver: NvidiaSmi | undefined,
  driverError: string | undefined,
  libs: FoundLibrary[],
): { problems: string[]; todo: string[]; found: string[] } {
  const problems: string[] = [];
  const todo: string[] = [];
  const found: string[] = [];
  if (!driver) {
    problems.push(`no NVIDIA driver (${driverError ?? 'nvidia-smi said nothing'})`);
    todo.push(`install NVIDIA's driver for CUDA ${build.driverCuda} or newer (nvidia-smi must run)`);
  } else if (!driver.cudaVersion) {
    problems.push('nvidia-smi does not say which CUDA version its driver supports');
  } else if (compareVersions(driver.cudaVersion, build.driverCuda) < 0) {
    problems.push(
      `the driver supports CUDA ${driver.cudaVersion}, older than the ${build.driverCuda} this build needs`,
    );
    todo.push(`update the NVIDIA driver to one for CUDA ${build.driverCuda} or newer`);
  }
  const missing: NeededLibrary[] = [];
  for (const need of build.libs) {
    const lib = pick(libs, need.soname);
    if (!lib) {
      missing.push(need);
      continue;
    }
    if (need.min && lib.version && compareVersions(lib.version, need.min) < 0) {
      problems.push(`${need.soname} is ${lib.version} (${lib.path}), older than ${need.min}`);
      missing.push(need);
      continue;
    }
    found.push(`${need.soname}${lib.version ? ` ${lib.version}` : ''}`);
  }
  if (missing.length) {
    problems.push(
      `missing ${missing.map((m) => `${m.soname} (${m.what}${m.min ? `, ${m.min} or newer` : ''})`).join(', ')}`,
    );
    const uniq = (xs: string[]): string[] => [...new Set(xs)];
    todo.push(
      `install CUDA ${build.cuda} and cuDNN ${build.cudnn} libraries: from NVIDIA's apt repository \`apt install ${uniq(missing.map((m) => m.apt)).join(' ')}\`, ` +
        `or with pip \`pip install ${uniq(missing.map((m) => m.pip)).join(' ')}\` and the wheels' nvidia/*/lib folders on LD_LIBRARY_PATH`,
    );
  }
  return { problems, todo, found };
}

/** The verdicts of a machine's facts: the `gpu` backend, onnxruntime's CUDA provider, WebGPU. */
export function gpuReport(f: GpuFacts): GpuReport {
  const driver = 'output' in f.nvidiaSmi ? parseNvidiaSmi(f.nvidiaSmi.output) : undefined;
  const driverError = 'error' in f.nvidiaSmi ? f.nvidiaSmi.error : undefined;
  const libraries = [
    ...('output' in f.ldconfig ? parseLdconfig(f.ldconfig.output, f.realPaths, f.arch) : []),
    ...librariesInFolders(f.ldLibraryPath, f.realPaths),
  ];
  const verdicts: Verdict[] = [];
  const onCudaPlatform = ['linux', 'win32'].includes(f.platform) && f.arch === 'x64';

  // gpu: tfjs-node-gpu
  {
    const t = TFJS_NODE_GPU_NEEDS;
    const todo: string[] = [];
    const problems: string[] = [];
    if (!onCudaPlatform) {
      const why = `libtensorflow with CUDA exists for Linux and Windows on x64 only, not ${f.platform}-${f.arch}`;
      verdicts.push({
        id: 'gpu',
        title: t.title,
        usable: false,
        summary: why,
        problems: [why],
        todo: ['use the webgpu backend'],
      });
    } else {
      if ('missing' in f.tfjsNodeGpu) {
        problems.push(`@tensorflow/tfjs-node-gpu is not installed: ${f.tfjsNodeGpu.missing}`);
        todo.push('run `aft gpu install` (in VS Code: AFT: Install GPU Runtime)');
      } else {
        if (!f.tfjsNodeGpu.libtensorflow || !f.tfjsNodeGpu.binding) {
          problems.push(
            `@tensorflow/tfjs-node-gpu in ${f.tfjsNodeGpu.dir} lacks ${[!f.tfjsNodeGpu.libtensorflow && 'libtensorflow', !f.tfjsNodeGpu.binding && 'its binding'].filter(Boolean).join(' and ')}`,
          );
          todo.push('install it again with `aft gpu install` (its install script downloads them)');
        }
        if (f.tfjsNodeGpu.version !== TFJS_NODE_GPU_VERSION)
          problems.push(
            `@tensorflow/tfjs-node-gpu is ${f.tfjsNodeGpu.version}, not the ${TFJS_NODE_GPU_VERSION} these needs are for`,
          );
      }
      if (f.platform === 'linux') {
        const c = cudaProblems(t, driver, driverError, libraries);
        problems.push(...c.problems);
        todo.push(...c.todo);
      }
      const usable = problems.length === 0;
      verdicts.push({
        id: 'gpu',
        title: t.title,
        usable,
        summary: usable ? 'usable: the gpu backend can load' : problems.join('; '),
        problems,
        todo,
      });
    }
  }

  // onnx-cuda: onnxruntime-node's CUDA provider
  {
    const t = ONNX_CUDA_NEEDS;
    const todo: string[] = [];
    const problems: string[] = [];
    if (f.platform !== 'linux' || f.arch !== 'x64') {
      const why = `onnxruntime-node's CUDA provider is downloaded for Linux x64 only, not ${f.platform}-${f.arch}`;
      verdicts.push({
        id: 'onnx-cuda',
        title: t.title,
        usable: false,
        summary: why,
        problems: [why],
        todo: ['extraction uses WebGPU or the CPU'],
      });
    } else {
      if ('missing' in f.onnxCuda) {
        problems.push(`the CUDA provider is not installed: ${f.onnxCuda.missing}`);
        todo.push('run `aft gpu install` (in VS Code: AFT: Install GPU Runtime)');
      }
      const c = cudaProblems(t, driver, driverError, libraries);
      problems.push(...c.problems);
      todo.push(...c.todo);
      const usable = problems.length === 0;
      verdicts.push({
        id: 'onnx-cuda',
        title: t.title,
        usable,
        summary: usable ? 'usable: extraction can run on CUDA' : problems.join('; '),
        problems,
        todo,
      });
    }
  }

  // webgpu
  {
    const title = 'webgpu (tfjs-backend-webgpu and onnxruntime WebGPU, on Dawn)';
    const w = f.webgpu;
    if (!w) {
      verdicts.push({
        id: 'webgpu',
        title,
        usable: false,
        unchecked: true,
        summary: 'not checked here (`aft gpu check` looks for the adapter)',
        problems: [],
        todo: [],
      });
    } else if ('error' in w) {
      verdicts.push({
        id: 'webgpu',
        title,
        usable: false,
        summary: `no WebGPU adapter: ${w.error}`,
        problems: [`no WebGPU adapter: ${w.error}`],
        todo: [
          f.platform === 'linux'
            ? "install the GPU's Vulkan driver and the Vulkan loader (libvulkan1); on NVIDIA, the driver's Vulkan ICD (nvidia_icd.json; VK_DRIVER_FILES names it if the loader does not find it)"
            : "update the GPU's driver",
        ],
      });
    } else if (w.adapter.software) {
      verdicts.push({
        id: 'webgpu',
        title,
        usable: false,
        summary: `only a software adapter (${w.adapter.softwareReason ?? 'software'}): ${adapterName(w.adapter)}; webgpu runs on it only when asked for by name, slower than wasm`,
        problems: [
          `only a software adapter (${w.adapter.softwareReason ?? 'software'}): ${adapterName(w.adapter)}; webgpu runs on it only when asked for by name, slower than wasm`,
        ],
        todo: [
          f.platform === 'linux'
            ? "install the GPU's Vulkan driver (for NVIDIA: the driver's Vulkan ICD, nvidia_icd.json)"
            : "install the GPU's driver",
        ],
      });
    } else {
      verdicts.push({
        id: 'webgpu',
        title,
        usable: true,
        summary: `usable on ${adapterName(w.adapter)}`,
        problems: [],
        todo: [],
      });
    }
  }

  const adapter = f.webgpu && 'adapter' in f.webgpu ? f.webgpu.adapter : undefined;
  return {
    ...(driver ? { driver } : {}),
    ...(driverError ? { driverError } : {}),
    libraries,
    ...('error' in f.ldconfig ? { librariesError: f.ldconfig.error } : {}),
    ...(adapter ? { adapter } : {}),
    verdicts,
    allUsable: verdicts.every((v) => v.usable || v.unchecked),
  };
}

function adapterName(a: GpuAdapterInfo): string {
  return a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unnamed adapter';
}

/** The report as the CLI prints it. */
export function formatGpuReport(r: GpuReport): string {
  const lines: string[] = [];
  lines.push(
    r.driver
      ? `NVIDIA driver ${r.driver.driverVersion ?? '?'} (CUDA ${r.driver.cudaVersion ?? '?'})${r.driver.gpus.length ? `: ${r.driver.gpus.join(', ')}` : ''}`
      : `NVIDIA driver: none (${r.driverError ?? 'nvidia-smi said nothing'})`,
  );
  const byName = new Map<string, FoundLibrary[]>();
  for (const l of r.libraries) {
    const name = l.soname.replace(/\.so.*$/, '');
    byName.set(name, [...(byName.get(name) ?? []), l]);
  }
  if (byName.size === 0)
    lines.push(
      `CUDA libraries: none found${r.librariesError ? ` (${r.librariesError})` : ''} (ldconfig -p, LD_LIBRARY_PATH)`,
    );
  else {
    lines.push('CUDA libraries (ldconfig -p, LD_LIBRARY_PATH):');
    for (const [name, libs] of byName) {
      const seen = new Set<string>();
      const items = libs
        .filter((l) => !seen.has(l.path) && seen.add(l.path))
        .map((l) => `${l.soname}${l.version ? ` (${l.version})` : ''} ${l.path}`);
      lines.push(`  ${name}: ${items.join('; ')}`);
    }
  }
  if (r.adapter)
    lines.push(
      `WebGPU adapter: ${adapterName(r.adapter)} (${r.adapter.software ? 'software' : 'GPU'}; vendor ${r.adapter.vendor || '?'}, architecture ${r.adapter.architecture || '?'})`,
    );
  lines.push('');
  lines.push(`needs: ${TFJS_NODE_GPU_NEEDS.title}, driver for CUDA ${TFJS_NODE_GPU_NEEDS.driverCuda}+`);
  lines.push(`       ${ONNX_CUDA_NEEDS.title}, driver for CUDA ${ONNX_CUDA_NEEDS.driverCuda}+`);
  lines.push('');
  for (const v of r.verdicts) {
    if (v.usable || v.unchecked) {
      lines.push(`${v.usable ? 'ok     ' : 'skipped'} ${v.id}: ${v.summary}`);
      continue;
    }
    lines.push(`MISSING ${v.id}: ${v.title}`);
    for (const p of v.problems) lines.push(`          - ${p}`);
    for (const t of v.todo) lines.push(`          → ${t}`);
  }
  return lines.join('\n');
}
