// Starting real peers for tests: free loopback ports, readiness by connecting, stopping by pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer, connect } from 'node:net'

/** Fails with the install command when a peer's binary is missing: a test never skips silently. */
export function requireBinary(bin: string, pkg: string): string {
	const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' })
	const path = r.stdout.trim()
	if (r.status !== 0 || path === '')
		throw new Error(`${bin} is not installed: apt-get install -y ${pkg} (or run: node scripts/setup.mjs --test)`)
	return path
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = createServer()
		srv.once('error', reject)
		srv.listen(0, '127.0.0.1', () => {
			const addr = srv.address()
			srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
		})
	})
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForTcp(port: number, timeoutMs = 5000, host = '127.0.0.1'): Promise<void> {
	const deadline = Date.now() + timeoutMs
	for (;;) {
		const ok = await new Promise<boolean>((resolve) => {
			const s = connect({ port, host })
			s.once('connect', () => {
				s.destroy()
				resolve(true)
			})
			s.once('error', () => resolve(false))
		})
		if (ok) return
		if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`)
		await new Promise((r) => setTimeout(r, 25))
	}
}

export interface Peer {
	child: ChildProcess
	output: () => string
	stop: () => Promise<void>
}

/** Spawns a peer; `stop()` sends SIGTERM to its pid and waits for it (SIGKILL after 3 s). */
export function spawnPeer(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Peer {
	const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
	let out = ''
	child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
	child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
	return {
		child,
		output: () => out,
		stop: async () => {
			if (child.exitCode !== null || child.signalCode !== null) return
			child.kill('SIGTERM')
			const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
			await exited
			clearTimeout(timer)
		},
	}
}
