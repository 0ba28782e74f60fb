/**
 * The engine's student families are the folder checks' specs (core/node/students/registry.ts)
 * with a model added, in the same order: the sidecar and the language server read a folder with
 * one implementation, and an architecture the checks accept is one the engine builds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KNOWN_ARCHS, KNOWN_MODEL_TYPES, STUDENT_SPECS } from '../../../core/node/students/registry';
import { STUDENT_FAMILIES } from '../../../sidecar/src/models/students/registry';

describe('student families and specs', () => {
  it('each family is its spec, member for member, with build, init and onnx added', () => {
    assert.deepEqual(
      STUDENT_FAMILIES.map((f) => f.name),
      STUDENT_SPECS.map((s) => s.name),
    );
    STUDENT_SPECS.forEach((spec, i) => {
      const family = STUDENT_FAMILIES[i] as unknown as Record<string, unknown>;
      for (const [key, value] of Object.entries(spec)) assert.equal(family[key], value, `${spec.name}.${key}`);
      for (const key of ['build', 'init', 'onnx']) assert.equal(typeof family[key], 'function', `${spec.name}.${key}`);
    });
  });

  it('every known architecture and model type belongs to one family', () => {
    for (const arch of [...KNOWN_ARCHS, ...KNOWN_MODEL_TYPES])
      assert.equal(STUDENT_FAMILIES.filter((f) => f.archs.includes(arch)).length, 1, arch);
  });
});
