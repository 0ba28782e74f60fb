/**
 * The compute backends that backend-dependent tests (golden, training parity, extraction parity)
 * run on: AFT_TEST_BACKENDS, comma-separated, default `cpu,wasm,webgpu`.
 *
 * webgpu is expected by default, on whatever adapter there is (CI installs Mesa's lavapipe, a
 * software Vulkan driver; tests ask for webgpu by name, so a software adapter is used). A listed
 * backend that does not start fails its tests with the reason; it is never skipped. A machine
 * with no WebGPU adapter leaves it out explicitly: AFT_TEST_BACKENDS=cpu,wasm.
 */
import { initBackend, tf, type BackendChoice, type BackendInfo } from '../../sidecar/src/runtime/tf';

export const TEST_BACKENDS = (process.env.AFT_TEST_BACKENDS ?? 'cpu,wasm,webgpu')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as BackendChoice[];

/** Whether the WebGPU tests run (and must pass) here. */
export const WEBGPU_EXPECTED = TEST_BACKENDS.includes('webgpu');

/** The `skip` option of a WebGPU-only test: false, or why it does not run. */
export const skipUnlessWebgpu: false | string = WEBGPU_EXPECTED ? false : 'AFT_TEST_BACKENDS leaves webgpu out';

/**
 * Starts `backend` for a test. On webgpu, tfjs runs a kernel on the CPU instead when all its
 * inputs are still CPU-side and small (WEBGPU_CPU_FORWARD, under 1000 elements): tests turn that
 * off, so that what they check is the GPU kernels.
 */
export async function startTestBackend(backend: BackendChoice): Promise<BackendInfo> {
  const info = await initBackend(backend);
  if (info.id === 'webgpu') tf.env().set('WEBGPU_CPU_FORWARD', false);
  return info;
}
