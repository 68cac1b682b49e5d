// `sigpath run` and a fault nothing handled (src/cli/fatal.ts): one fatal log line with pino's structured error, a
// bounded clean stop, exit 70, and no stack trace on stderr, for a rejected promise nobody awaited and for an
// exception thrown from a callback.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const child = fileURLToPath(new URL('./fatal-child.ts', import.meta.url))

function run(mode: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve, reject) => {
		const p = spawn(process.execPath, ['--import', 'tsx', child, mode], { stdio: ['ignore', 'pipe', 'pipe'] })
		let stdout = ''
		let stderr = ''
		p.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
		p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
		p.on('error', reject)
		p.on('close', (code) => resolve({ code, stdout, stderr }))
	})
}

interface Line {
	level: number
	msg: string
	err?: { type: string; message: string; stack: string }
	why?: string
}

describe('a fault nothing handled', () => {
	for (const [mode, what, type, message] of [
		['rejection', 'unhandled promise rejection', 'Error', 'boom in a promise nobody awaited'],
		['exception', 'uncaught exception', 'TypeError', 'boom in a callback'],
	] as const)
		it(`${what}: one fatal line, a clean stop, exit 70, nothing on stderr`, { timeout: 20_000 }, async () => {
			const r = await run(mode)
			expect(r.stderr).toBe('')
			expect(r.code).toBe(70)
			const lines = r.stdout
				.trim()
				.split('\n')
				.map((l) => JSON.parse(l) as Line)
			const fatal = lines.filter((l) => l.level === 60)
			expect(fatal).toHaveLength(1)
			expect(fatal[0]!.msg).toBe(`${what}: ${message}; stopping (exit 70)`)
			// the structured error stays in the log, for whoever debugs it
			expect(fatal[0]!.err).toMatchObject({ type, message })
			expect(fatal[0]!.err!.stack).toMatch(/fatal-child\.ts/)
			expect(lines.at(-1)).toMatchObject({ msg: 'stopped cleanly', why: what })
		})

	it('a stop that hangs does not keep the process: exit 70 all the same', { timeout: 20_000 }, async () => {
		const r = await run('hang')
		expect(r.stderr).toBe('')
		expect(r.code).toBe(70)
	})
})
