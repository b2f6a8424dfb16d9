// Builds the console into OUT (index.html, assets/app.js, assets/app.css) with esbuild.
// Usage: node build.mjs OUT NODE_MODULES   (NODE_MODULES: where `npm ci` installed package-lock.json)
import { createRequire } from 'node:module';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [out, modules] = process.argv.slice(2).map((p) => p && resolve(p));
if (!out || !modules) {
  console.error('usage: node build.mjs OUT NODE_MODULES');
  process.exit(2);
}
const esbuild = createRequire(join(modules, 'noop.js'))('esbuild');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, 'src/main.jsx'), style: join(here, 'src/app.css') },
  outdir: join(out, 'assets'),
  entryNames: '[name]',
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  nodePaths: [modules],
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
