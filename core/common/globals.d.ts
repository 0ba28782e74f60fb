/**
 * The few globals core/common uses that every runtime it runs in has (Node 20, the webviews'
 * Chromium) but that TypeScript declares only with the DOM or Node types, which this package
 * leaves out so that nothing here can depend on either.
 */
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}
