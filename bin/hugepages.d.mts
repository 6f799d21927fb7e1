// Types of bin/hugepages.mjs for the TypeScript that imports it (test/web/browser.ts).
export function withHugePages(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined;
export function withoutHugePages(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
export function watchLauncher(): boolean;
export function relaunch(): null | Promise<{ code: number | null; signal: NodeJS.Signals | null } | null>;
