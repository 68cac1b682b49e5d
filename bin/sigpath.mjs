#!/usr/bin/env node
// The installed `sigpath` command: the built JavaScript in dist/ when present, else the sources through tsx.
import { existsSync } from 'node:fs'

const built = new URL('../dist/src/cli/main.js', import.meta.url)
let mod
if (existsSync(built)) mod = await import(built.href)
else {
	const { register } = await import('tsx/esm/api')
	register()
	mod = await import(new URL('../src/cli/main.ts', import.meta.url).href)
}
process.exitCode = await mod.main(process.argv.slice(2))
