// A socat pty pair (docs/operations.md, Routers): two linked pseudo-terminals, the way an RS-422 cable looks to both ends.
// Started by the test that needs it and stopped by its pid; a missing socat fails with the install command.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface PtyPair {
	a: string
	b: string
	pid: number
	stop(): Promise<void>
}

export async function startPtyPair(): Promise<PtyPair> {
	if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status !== 0)
		throw new Error('socat is not installed: apt-get install -y socat (scripts/setup.mjs --test installs it)')
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-pty-'))
	const a = join(dir, 'ttyA')
	const b = join(dir, 'ttyB')
	const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
		stdio: ['ignore', 'ignore', 'pipe'],
	})
	let stderr = ''
	child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
	const deadline = Date.now() + 5000
	while (!(existsSync(a) && existsSync(b) && stderr.includes('starting data transfer loop'))) {
		if (child.exitCode !== null || Date.now() > deadline) {
			child.kill('SIGKILL')
			rmSync(dir, { recursive: true, force: true })
			throw new Error(`socat did not create the pty pair: ${stderr}`)
		}
		await new Promise((r) => setTimeout(r, 20))
	}
	const pid = child.pid!
	return {
		a,
		b,
		pid,
		stop: async () => {
			if (child.exitCode === null) {
				const exited = new Promise<void>((r) => child.once('exit', () => r()))
				process.kill(pid, 'SIGTERM')
				await exited
			}
			rmSync(dir, { recursive: true, force: true })
		},
	}
}
