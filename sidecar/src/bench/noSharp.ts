/**
 * Stands in for sharp in the GPU check's bundle (scripts/build.mjs): the check decodes no images,
 * and its carried folder leaves libvips out. runtime/images.ts only sets the cache at load.
 */
function sharp(): never {
  throw new Error('image decoding is not in the GPU check bundle (sharp is left out of it)');
}
sharp.cache = (_enabled: boolean): void => {};

export default sharp;
