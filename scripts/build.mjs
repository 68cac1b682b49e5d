#!/usr/bin/env node
// Builds the release's dist/: the TypeScript compiled by tsc (relative imports rewritten to .js), plus the files the
// daemon serves or loads at run time that tsc does not copy: the dashboard's static files and the native SRT binding.
// Each is copied to the same place under dist/ as in the source tree, so a module finds them relative to itself in
// both (drivers/srt/native.ts: the binding is native/build/Release/sigpath_srt.node beside it).
//
//   node scripts/build.mjs                       # dist/ in the checkout (npm run build)
//   node scripts/build.mjs --out DIR             # DIR instead (systemd/install.sh builds into its staging release)
//   node scripts/build.mjs --no-typecheck        # the same JavaScript, without tsc's type check (for the tests of
//                                                # the installed release: `npm test` has type-checked already)
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

const root = resolve(import.meta.dirname, '..')
let args
try {
	args = parseArgs({ options: { out: { type: 'string' }, 'no-typecheck': { type: 'boolean' } }, strict: true }).values
} catch (err) {
	console.error(`build: ${err.message}\nusage: node scripts/build.mjs [--out DIR] [--no-typecheck]`)
	process.exit(2)
}
const out = resolve(args.out ?? resolve(root, 'dist'))
// the output is removed first: never the checkout itself or a directory above it
if (root === out || root.startsWith(`${out}/`) || out === '/') {
	console.error(`build: --out ${out} would remove the checkout: give a directory of its own`)
	process.exit(2)
}

/** Run-time files tsc does not emit, by their place in the source tree (the same place under the output). */
const RUNTIME_FILES = [
	{ path: 'src/status/dashboard', fix: 'it is part of the repository: restore it with git' },
	// the lab's mosquitto runs with the production ACL (src/lab/broker.ts reads it relative to itself)
	{ path: 'config/mosquitto.acl', fix: 'it is part of the repository: restore it with git' },
	{
		path: 'drivers/srt/native/build/Release/sigpath_srt.node',
		fix:
			'build the SRT binding first: `npm_config_nodedir=/usr npx node-gyp rebuild -C drivers/srt/native` ' +
			'(or `npm ci`), which needs pkg-config and libsrt-openssl-dev',
	},
]

// A release without one of them would start and then fail on air (no SRT, no dashboard): refuse before building.
for (const f of RUNTIME_FILES)
	if (!existsSync(resolve(root, f.path))) {
		console.error(`build: ${f.path} is missing: ${f.fix}`)
		process.exit(1)
	}

rmSync(out, { recursive: true, force: true })
const tsc = [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', resolve(root, 'tsconfig.build.json')]
// --noCheck emits the same JavaScript; it only leaves out the type errors
if (args['no-typecheck']) tsc.push('--noCheck')
try {
	execFileSync(process.execPath, [...tsc, '--outDir', out], { stdio: 'inherit', cwd: root })
} catch {
	// tsc has printed its errors above: one line more, no stack trace
	console.error('build: tsc failed (its errors are above)')
	process.exit(1)
}
for (const f of RUNTIME_FILES) cpSync(resolve(root, f.path), resolve(out, f.path), { recursive: true })
console.log(`built ${out}`)
