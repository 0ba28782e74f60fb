/**
 * `aft gpu check`'s judgement, from data: nvidia-smi and `ldconfig -p` outputs as text, the
 * LD_LIBRARY_PATH folders' file names, the packages and the WebGPU adapter; each case says which
 * verdicts are usable and what the report must say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareVersions,
  formatGpuReport,
  gpuReport,
  librariesInFolders,
  parseLdconfig,
  parseNvidiaSmi,
  type GpuFacts,
  type VerdictId,
} from '../../core/node/gpu/check';
import { missingNativeFiles, stagingPackageJson } from '../../core/node/gpu/install';
import type { GpuAdapterInfo } from '../../core/common/protocol/rpc';

const SMI_H200 = `Tue Nov  4 10:12:01 2026
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 580.159.03             Driver Version: 580.159.03     CUDA Version: 13.0     |
+-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA H200                    On  |   00000000:19:00.0 Off |                    0 |
| N/A   31C    P0             76W /  700W |       0MiB / 143771MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
`;

const SMI_OLD = `+-----------------------------------------------------------------------------+
| NVIDIA-SMI 470.223.02   Driver Version: 470.223.02   CUDA Version: 11.4     |
|-------------------------------+----------------------+----------------------+
| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |
|===============================+======================+======================|
|   0  Tesla T4            Off  | 00000000:00:1E.0 Off |                    0 |
|   1  Tesla T4            Off  | 00000000:00:1F.0 Off |                    0 |
+-------------------------------+----------------------+----------------------+
`;

const LD_CUDA11 = `1093 libs found in cache \`/etc/ld.so.cache'
	libcusparse.so.11 (libc6,x86-64) => /usr/local/cuda-11.8/lib64/libcusparse.so.11
	libcusolver.so.11 (libc6,x86-64) => /usr/local/cuda-11.8/lib64/libcusolver.so.11
	libcurand.so.10 (libc6,x86-64) => /usr/local/cuda-11.8/lib64/libcurand.so.10
	libcufft.so.10 (libc6,x86-64) => /usr/local/cuda-11.8/lib64/libcufft.so.10
	libcudnn.so.8 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.8
	libcudart.so.11.0 (libc6,x86-64) => /usr/local/cuda-11.8/lib64/libcudart.so.11.0
	libcudart.so.11.0 (libc6) => /usr/lib/i386-linux-gnu/libcudart.so.11.0
	libcublasLt.so.11 (libc6,x86-64) => /usr/local/cuda-11.8/lib64/libcublasLt.so.11
	libcublas.so.11 (libc6,x86-64) => /usr/local/cuda-11.8/lib64/libcublas.so.11
	libc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6
`;
const REAL_CUDA11 = {
  '/usr/lib/x86_64-linux-gnu/libcudnn.so.8': '/usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.7',
  '/usr/local/cuda-11.8/lib64/libcudart.so.11.0': '/usr/local/cuda-11.8/lib64/libcudart.so.11.8.89',
};

const LD_CUDA12 = `	libcudart.so.12 (libc6,x86-64) => /usr/local/cuda-12.6/lib64/libcudart.so.12
	libcublas.so.12 (libc6,x86-64) => /usr/local/cuda-12.6/lib64/libcublas.so.12
	libcublasLt.so.12 (libc6,x86-64) => /usr/local/cuda-12.6/lib64/libcublasLt.so.12
	libcufft.so.11 (libc6,x86-64) => /usr/local/cuda-12.6/lib64/libcufft.so.11
	libcurand.so.10 (libc6,x86-64) => /usr/local/cuda-12.6/lib64/libcurand.so.10
`;
/** cuDNN 9 from pip (nvidia-cudnn-cu12) on LD_LIBRARY_PATH. */
const PIP_CUDNN9 = [
  {
    dir: '/opt/venv/lib/python3.12/site-packages/nvidia/cudnn/lib',
    files: ['__init__.py', 'libcudnn.so.9', 'libcudnn_graph.so.9', 'libcudnn_ops.so.9'],
  },
];

const H200: GpuAdapterInfo = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: '',
  description: 'NVIDIA H200',
  software: false,
  limits: {
    maxBufferSize: 2 ** 34,
    maxStorageBufferBindingSize: 2 ** 31,
    maxComputeWorkgroupStorageSize: 32768,
    maxComputeInvocationsPerWorkgroup: 1024,
    maxComputeWorkgroupsPerDimension: 65535,
  },
};
const LAVAPIPE: GpuAdapterInfo = {
  ...H200,
  vendor: 'mesa',
  architecture: '',
  description: 'llvmpipe (LLVM 15.0.6, 256 bits)',
  software: true,
  softwareReason: 'it is llvmpipe',
};

const TF_OK = {
  version: '4.22.0',
  dir: '/rt/node_modules/@tensorflow/tfjs-node-gpu',
  libtensorflow: true,
  binding: true,
};

function facts(over: Partial<GpuFacts>): GpuFacts {
  return {
    platform: 'linux',
    arch: 'x64',
    nvidiaSmi: { error: 'nvidia-smi not found' },
    ldconfig: { output: '' },
    ldLibraryPath: [],
    tfjsNodeGpu: { missing: 'not installed' },
    onnxCuda: { missing: 'libonnxruntime_providers_cuda.so is in no onnxruntime-node' },
    webgpu: { error: 'WebGPU found no adapter' },
    ...over,
  };
}

describe('GPU check: parsing', () => {
  it('nvidia-smi: driver, CUDA version and GPUs, old and new layouts', () => {
    assert.deepEqual(parseNvidiaSmi(SMI_H200), {
      driverVersion: '580.159.03',
      cudaVersion: '13.0',
      gpus: ['NVIDIA H200'],
    });
    assert.deepEqual(parseNvidiaSmi(SMI_OLD), {
      driverVersion: '470.223.02',
      cudaVersion: '11.4',
      gpus: ['Tesla T4', 'Tesla T4'],
    });
    assert.deepEqual(parseNvidiaSmi("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."), {
      gpus: [],
    });
  });

  it('ldconfig -p: CUDA libraries only, x86-64 only, full versions from the files the names lead to', () => {
    const libs = parseLdconfig(LD_CUDA11, REAL_CUDA11);
    assert.deepEqual(
      libs.map((l) => l.soname),
      [
        'libcusparse.so.11',
        'libcusolver.so.11',
        'libcurand.so.10',
        'libcufft.so.10',
        'libcudnn.so.8',
        'libcudart.so.11.0',
        'libcublasLt.so.11',
        'libcublas.so.11',
      ],
    );
    assert.equal(libs.find((l) => l.soname === 'libcudnn.so.8')?.version, '8.9.7');
    assert.equal(libs.find((l) => l.soname === 'libcudart.so.11.0')?.version, '11.8.89');
    assert.equal(libs.find((l) => l.soname === 'libcublas.so.11')?.version, undefined);
    assert.equal(parseLdconfig(LD_CUDA11, {}, 'arm64').filter((l) => l.soname === 'libcudart.so.11.0').length, 2);
  });

  it('LD_LIBRARY_PATH folders: the CUDA libraries among their files', () => {
    assert.deepEqual(librariesInFolders(PIP_CUDNN9), [
      {
        soname: 'libcudnn.so.9',
        path: '/opt/venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9',
        from: 'LD_LIBRARY_PATH',
      },
    ]);
  });

  it('versions compare numerically', () => {
    assert.ok(compareVersions('11.10', '11.2') > 0);
    assert.ok(compareVersions('8.0.5', '8.1') < 0);
    assert.equal(compareVersions('12', '12.0.0'), 0);
  });
});

interface Case {
  name: string;
  facts: Partial<GpuFacts>;
  usable: VerdictId[];
  /** Each must match the formatted report. */
  says: RegExp[];
}

const CASES: Case[] = [
  {
    name: 'no NVIDIA driver, no CUDA, only a software adapter (this CI machine)',
    facts: { webgpu: { adapter: LAVAPIPE } },
    usable: [],
    says: [
      /NVIDIA driver: none \(nvidia-smi not found\)/,
      /MISSING gpu: @tensorflow\/tfjs-node-gpu 4\.22\.0/,
      /- @tensorflow\/tfjs-node-gpu is not installed/,
      /aft gpu install/,
      /no NVIDIA driver/,
      /MISSING webgpu/,
      /- only a software adapter \(it is llvmpipe\)/,
      /CUDA libraries: none found/,
    ],
  },
  {
    name: 'H200 with a CUDA 13 driver, nothing installed: the libraries to get, by soname',
    facts: { nvidiaSmi: { output: SMI_H200 }, webgpu: { adapter: H200 } },
    usable: ['webgpu'],
    says: [
      /NVIDIA driver 580\.159\.03 \(CUDA 13\.0\): NVIDIA H200/,
      /missing libcudart\.so\.11\.0 \(CUDA 11 runtime, 11\.2 or newer\)/,
      /libcudnn\.so\.8 \(cuDNN 8, 8\.1 or newer\)/,
      /apt install cuda-cudart-11-8 libcublas-11-8/,
      /pip install nvidia-cuda-runtime-cu11/,
      /missing libcudart\.so\.12/,
      /libcudnn\.so\.9 \(cuDNN 9\)/,
      /ok {6}webgpu: usable on NVIDIA H200/,
    ],
  },
  {
    name: 'CUDA 11.8 + cuDNN 8.9 and tfjs-node-gpu installed: gpu usable, onnxruntime CUDA not (CUDA 12 libraries and provider missing)',
    facts: {
      nvidiaSmi: { output: SMI_H200 },
      ldconfig: { output: LD_CUDA11 },
      realPaths: REAL_CUDA11,
      tfjsNodeGpu: TF_OK,
      webgpu: { adapter: H200 },
    },
    usable: ['gpu', 'webgpu'],
    says: [
      /libcudnn: libcudnn\.so\.8 \(8\.9\.7\)/,
      /ok {6}gpu: usable/,
      /MISSING onnx-cuda: onnxruntime-node 1\.30\.0's CUDA provider/,
      /- the CUDA provider is not installed/,
    ],
  },
  {
    name: 'CUDA 12 from ldconfig + cuDNN 9 from pip on LD_LIBRARY_PATH, provider installed: onnx-cuda usable',
    facts: {
      nvidiaSmi: { output: SMI_H200 },
      ldconfig: { output: LD_CUDA12 },
      ldLibraryPath: PIP_CUDNN9,
      onnxCuda: { dir: '/rt/node_modules/onnxruntime-node' },
      webgpu: { adapter: H200 },
    },
    usable: ['onnx-cuda', 'webgpu'],
    says: [/ok {6}onnx-cuda: usable/, /MISSING gpu/],
  },
  {
    name: 'everything present: all usable',
    facts: {
      nvidiaSmi: { output: SMI_H200 },
      ldconfig: { output: LD_CUDA11 + LD_CUDA12 },
      realPaths: REAL_CUDA11,
      ldLibraryPath: PIP_CUDNN9,
      tfjsNodeGpu: TF_OK,
      onnxCuda: { dir: '/rt/x' },
      webgpu: { adapter: H200 },
    },
    usable: ['gpu', 'onnx-cuda', 'webgpu'],
    says: [/ok {6}gpu/, /ok {6}onnx-cuda/, /ok {6}webgpu/],
  },
  {
    name: 'a driver too old for CUDA 12 and a cuDNN 8.0 too old for libtensorflow 2.9',
    facts: {
      nvidiaSmi: { output: SMI_OLD },
      ldconfig: { output: LD_CUDA11 + LD_CUDA12 },
      realPaths: {
        ...REAL_CUDA11,
        '/usr/lib/x86_64-linux-gnu/libcudnn.so.8': '/usr/lib/x86_64-linux-gnu/libcudnn.so.8.0.5',
      },
      ldLibraryPath: PIP_CUDNN9,
      tfjsNodeGpu: TF_OK,
      onnxCuda: { dir: '/rt/x' },
    },
    usable: [],
    says: [
      /libcudnn\.so\.8 is 8\.0\.5 .*older than 8\.1/,
      /the driver supports CUDA 11\.4, older than the 12\.0 this build needs/,
      /update the NVIDIA driver/,
      /- no WebGPU adapter/,
    ],
  },
  {
    name: 'tfjs-node-gpu whose install script never ran (npm skipped it)',
    facts: {
      nvidiaSmi: { output: SMI_H200 },
      ldconfig: { output: LD_CUDA11 },
      realPaths: REAL_CUDA11,
      tfjsNodeGpu: { ...TF_OK, libtensorflow: false, binding: false },
    },
    usable: [],
    says: [/lacks libtensorflow and its binding/, /install it again with `aft gpu install`/],
  },
  {
    name: 'macOS: no CUDA at all, WebGPU on Metal',
    facts: {
      platform: 'darwin',
      arch: 'arm64',
      ldconfig: { error: 'no ldconfig on darwin' },
      webgpu: { adapter: { ...H200, vendor: 'apple', description: 'Apple M2' } },
    },
    usable: ['webgpu'],
    says: [/exists for Linux and Windows on x64 only, not darwin-arm64/, /Linux x64 only/, /usable on Apple M2/],
  },
];

describe('GPU check: verdicts', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const r = gpuReport(facts(c.facts));
      const usable = r.verdicts.filter((v) => v.usable).map((v) => v.id);
      const text = formatGpuReport(r);
      assert.deepEqual(usable.sort(), [...c.usable].sort(), text);
      assert.equal(r.allUsable, c.usable.length === 3);
      for (const re of c.says) assert.match(text, re);
      for (const v of r.verdicts) if (!v.usable) assert.ok(v.todo.length > 0, `${v.id} says what to do`);
    });
  }

  it('the extension, which does not look for WebGPU, judges the CUDA builds only', () => {
    const { webgpu: _w, ...noWebgpu } = facts({
      nvidiaSmi: { output: SMI_H200 },
      ldconfig: { output: LD_CUDA11 + LD_CUDA12 },
      realPaths: REAL_CUDA11,
      ldLibraryPath: PIP_CUDNN9,
      tfjsNodeGpu: TF_OK,
      onnxCuda: { dir: '/x' },
    });
    const r = gpuReport(noWebgpu);
    assert.equal(r.verdicts.find((v) => v.id === 'webgpu')?.unchecked, true);
    assert.equal(r.allUsable, true);
  });
});

describe('GPU runtime installer: the staging project', () => {
  it('allows the two install scripts that fetch the native files (npm 11 skips the others)', () => {
    const pkg = JSON.parse(stagingPackageJson()) as { allowScripts: Record<string, boolean> };
    assert.deepEqual(pkg.allowScripts, { '@tensorflow/tfjs-node-gpu@4.22.0': true, 'onnxruntime-node@1.30.0': true });
  });

  it('says which native files an install left out', () => {
    const missing = missingNativeFiles('/nonexistent/node_modules');
    assert.match(missing.join('\n'), /tfjs-node-gpu is not in the installed folder/);
    if (process.platform === 'linux') assert.match(missing.join('\n'), /no CUDA provider/);
  });
});
