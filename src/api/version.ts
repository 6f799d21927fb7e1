// The HART.js version recorded in PNG metadata and reported by `hart --version` and the server
// (test/package checks that it equals package.json's).
export const VERSION = '0.1.0';
export const SOFTWARE = `hart-js ${VERSION}`;
