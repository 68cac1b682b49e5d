// Real peers for the power/signal tests: started on loopback, on free ports, stopped by pid. A missing binary
// fails the test with the command that installs it (never a silent skip).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function requireBinary(path: string, pkg: string): void {
	const found = path.startsWith('/') ? existsSync(path) : spawnSync('sh', ['-c', `command -v ${path}`]).status === 0
	if (!found)
		throw new Error(
			`${path} is missing: install it with \`apt-get install -y --no-install-recommends ${pkg}\` (or node scripts/setup.mjs --test)`,
		)
}

export async function freeTcpPort(): Promise<number> {
	const srv = createServer()
	await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
	const addr = srv.address()
	await new Promise<void>((resolve) => srv.close(() => resolve()))
	if (addr === null || typeof addr === 'string') throw new Error('no TCP port')
	return addr.port
}

export function scratch(prefix: string): { dir: string; remove: () => void } {
	const dir = mkdtempSync(join(tmpdir(), `sigpath-${prefix}-`))
	return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface Peer {
	child: ChildProcess
	pid: number
	output: () => string
	stop: () => Promise<void>
}

/** Starts a daemon; `stop()` signals it by pid and waits for its exit (SIGKILL after 3 s). */
export function startPeer(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Peer {
	const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) })
	let out = ''
	child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)))
	child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)))
	if (child.pid === undefined) throw new Error(`${cmd} did not start`)
	const pid = child.pid
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
	return {
		child,
		pid,
		output: () => out,
		stop: async () => {
			if (child.exitCode !== null || child.signalCode !== null) return
			process.kill(pid, 'SIGTERM')
			const t = setTimeout(() => {
				if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL')
			}, 3000)
			await exited
			clearTimeout(t)
		},
	}
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { code: number; out: string } {
	const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 10_000 })
	return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` }
}

/** The async form: the event loop keeps running (an in-process simulator must keep answering meanwhile). */
export function runAsync(
	cmd: string,
	args: string[],
	env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; out: string; stdout: string }> {
	return new Promise((resolve) => {
		execFile(cmd, args, { env, encoding: 'utf8', timeout: 10_000 }, (err, stdout, stderr) => {
			const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
			resolve({ code, out: `${stdout}${stderr}`, stdout })
		})
	})
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Waits until `fn` returns a truthy value, polling every 25 ms; throws with `what` after `ms`. */
export async function until<T>(
	fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
	ms: number,
	what: string | (() => string),
): Promise<T> {
	const end = Date.now() + ms
	for (;;) {
		const v = await fn()
		if (v) return v
		if (Date.now() > end)
			throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)
		await sleep(25)
	}
}

/** Resources in `after` beyond those in `before` (a multiset difference): what was made and not released. */
export function newResources(before: string[], after: string[]): string[] {
	const left = [...before]
	return after.filter((r) => {
		const i = left.indexOf(r)
		if (i < 0) return true
		left.splice(i, 1)
		return false
	})
}
