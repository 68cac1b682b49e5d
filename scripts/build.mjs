#!/usr/bin/env node
// Builds dist/: the TypeScript compiled by tsc (relative imports rewritten to .js), plus the files the daemon
// serves or loads at run time that tsc does not copy (the dashboard's static files, native addons stay in place).
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, rmSync } from 'node:fs'

rmSync('dist', { recursive: true, force: true })
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
for (const dir of ['src/status/dashboard']) if (existsSync(dir)) cpSync(dir, `dist/${dir}`, { recursive: true })
console.log('built dist/')
