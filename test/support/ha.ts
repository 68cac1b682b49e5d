// A pair for tests and the chaos benchmark (docs/contract.md §9): a real etcd on loopback, daemons as separate
// processes (`sigpath run --node`), so that SIGKILL and SIGSTOP are real, and which node sent a routing request
// (the Videohub simulator logs each request with the client's TCP port; /proc says whose port it is).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, requireBinary, spawnPeer, waitForTcp, type Peer } from './peers.ts'

export interface Etcd {
	url: string
	peer: Peer
	/** stops the member (its data kept) and starts it again on the same ports (all of etcd lost, then back) */
	restart: (downMs: number) => Promise<void>
	stop: () => Promise<void>
}

/** One etcd member on free loopback ports, its data in a scratch directory; stopped by its pid. */
export async function startEtcd(): Promise<Etcd> {
	const bin = requireBinary('etcd', 'etcd-server')
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-etcd-'))
	const client = await freePort()
	const peerPort = await freePort()
	const url = `http://127.0.0.1:${client}`
	const peerUrl = `http://127.0.0.1:${peerPort}`
	const args = [
		...['--name', 't', '--data-dir', join(dir, 'data'), '--listen-client-urls', url, '--advertise-client-urls', url],
		...['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `t=${peerUrl}`],
	]
	let peer = spawnPeer(bin, args)
	const ready = () =>
		waitForTcp(client, 10_000).catch((err: Error) => {
			throw new Error(`etcd did not start: ${peer.output()}`, { cause: err })
		})
	await ready()
	return {
		url,
		get peer() {
			return peer
		},
		restart: async (downMs) => {
			await peer.stop()
			await new Promise((r) => setTimeout(r, downMs))
			peer = spawnPeer(bin, args)
			await ready()
		},
		stop: async () => {
			await peer.stop()
			rmSync(dir, { recursive: true, force: true })
		},
	}
}

/** The local ports of the TCP sockets a process holds (Linux /proc): which node a router's client port is. */
export function tcpPortsOf(pid: number): Set<number> {
	const inodes = new Set<string>()
	let fds: string[] = []
	try {
		fds = readdirSync(`/proc/${pid}/fd`)
	} catch {
		return new Set() // the process is gone
	}
	for (const fd of fds) {
		try {
			const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
			if (m) inodes.add(m[1]!)
		} catch {
			// a descriptor closed while we listed them
		}
	}
	const ports = new Set<number>()
	for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
		for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
			const f = line.trim().split(/\s+/)
			if (f.length < 10 || !inodes.has(f[9]!)) continue
			ports.add(parseInt(f[1]!.split(':')[1]!, 16))
		}
	}
	return ports
}

export interface NodeStatusView {
	name: string
	role: 'active' | 'standby' | 'alone'
	active: string | null
	leaseRemainingMs: number | null
}

export interface DaemonProc {
	name: string
	child: ChildProcess
	httpPort: number
	output: () => string
	exited: Promise<number | null>
	/** GET /status (null: not answering) */
	status: () => Promise<StatusView | null>
	signal: (sig: NodeJS.Signals) => void
	/** SIGTERM, then SIGKILL after 5 s; resolves on exit */
	stop: () => Promise<void>
	/** local TCP ports this process holds now (its router connection among them) */
	ports: () => Set<number>
}

export interface StatusView {
	node: NodeStatusView
	feeds: { event: string; feed: string; active: string | null; mode: string; locked: boolean }[]
}

/** `sigpath run --config FILE --node NAME` as a child process. */
export function startDaemon(
	name: string,
	configFile: string,
	httpPort: number,
	env: NodeJS.ProcessEnv = {},
): DaemonProc {
	const child = spawn(
		process.execPath,
		['--import', 'tsx', 'src/cli/main.ts', 'run', '--config', configFile, '--node', name],
		{ env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
	)
	let out = ''
	child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)))
	child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)))
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
	const alive = () => child.exitCode === null && child.signalCode === null
	return {
		name,
		child,
		httpPort,
		output: () => out,
		exited,
		status: async () => {
			try {
				const r = await fetch(`http://127.0.0.1:${httpPort}/status`, { signal: AbortSignal.timeout(1000) })
				return r.ok ? ((await r.json()) as StatusView) : null
			} catch {
				return null
			}
		},
		signal: (sig) => {
			if (alive()) child.kill(sig)
		},
		stop: async () => {
			if (!alive()) return
			child.kill('SIGCONT')
			child.kill('SIGTERM')
			const t = setTimeout(() => child.kill('SIGKILL'), 5000)
			await exited
			clearTimeout(t)
		},
		ports: () => (child.pid !== undefined ? tcpPortsOf(child.pid) : new Set()),
	}
}

export function sleep(ms: number): Promise<void> {
	return new Promise((r) => setTimeout(r, ms))
}

/** Polls `cond` until it holds; throws with `what` (and the context) after `timeoutMs`. */
export async function until(
	what: string,
	cond: () => boolean | Promise<boolean>,
	timeoutMs = 20_000,
	context?: () => string,
): Promise<void> {
	const end = Date.now() + timeoutMs
	while (!(await cond())) {
		if (Date.now() > end)
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context()}` : ''}`)
		await sleep(25)
	}
}
