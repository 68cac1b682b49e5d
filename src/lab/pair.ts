// `sigpath lab --pair [FILE]`: controller redundancy (docs/contract.md §9) on loopback. etcd (one member, its data
// under .lab/pair/), mosquitto (anonymous, loopback), the config's devices simulated in-process as in `sigpath lab`,
// and two daemons `a` and `b` as child processes (`sigpath run --node`), so that killing or pausing the active is
// real. The console says who is active, and how long a takeover took; `kill` SIGKILLs the active, `pause` stops
// it (SIGSTOP) and `resume` wakes it, `start` brings a dead node back (as standby), `cut`/`restore` a device.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { Logger } from 'pino'
import { parse as parseYaml, stringify } from 'yaml'
import type { CliIo } from '../cli/io.ts'
import type { Config } from '../domain/config.ts'
import { splitListen } from '../domain/primitives.ts'
import { Lab, type FaultAction } from './lab.ts'

const DIR = '.lab/pair'
const NODES = ['a', 'b'] as const
type Name = (typeof NODES)[number]
const HELP = 'pair console: kill | pause | resume | start NODE | cut DEVICE | restore DEVICE | state | help | quit'

interface NodeView {
	node: { name: string; role: string; active: string | null }
	feeds: { event: string; feed: string; active: string | null; mode: string; locked: boolean }[]
}

export class PairError extends Error {
	override name = 'PairError'
}

function need(bin: string, pkg: string): void {
	if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0)
		throw new PairError(`sigpath lab --pair needs ${bin}: apt-get install -y ${pkg}`)
}

function hostPort(url: string): { host: string; port: number } {
	const u = new URL(url)
	return { host: u.hostname, port: Number(u.port) }
}

async function waitTcp(port: number, host: string, ms: number, what: string): Promise<void> {
	const end = Date.now() + ms
	for (;;) {
		const ok = await new Promise<boolean>((r) => {
			const s = connect({ port, host })
			s.once('connect', () => (s.destroy(), r(true)))
			s.once('error', () => r(false))
		})
		if (ok) return
		if (Date.now() > end) throw new PairError(`${what} did not start on ${host}:${port}`)
		await new Promise((r) => setTimeout(r, 50))
	}
}

export class PairLab {
	private readonly lab: Lab
	private readonly children: { what: string; child: ChildProcess }[] = []
	readonly procs = new Map<Name, ChildProcess>()
	readonly http = new Map<Name, number>()
	private readonly files = new Map<Name, string>()
	private paused: Name | undefined

	constructor(
		private readonly file: string,
		private readonly config: Config,
		log: Logger,
	) {
		if (!config.ha || !config.mqtt) throw new PairError(`${file}: a pair needs ha and mqtt (see config/lab-pair.yaml)`)
		this.lab = new Lab({ config, log, dir: DIR })
	}

	async start(): Promise<void> {
		need('etcd', 'etcd-server')
		need('mosquitto', 'mosquitto')
		rmSync(DIR, { recursive: true, force: true })
		mkdirSync(DIR, { recursive: true, mode: 0o755 })
		const etcd = hostPort(this.config.ha!.etcd.endpoints[0]!)
		const peer = `http://${etcd.host}:${etcd.port + 1}`
		const client = `http://${etcd.host}:${etcd.port}`
		this.run('etcd', 'etcd', [
			...['--name', 'lab', '--data-dir', join(DIR, 'etcd'), '--listen-client-urls', client],
			...['--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
			...['--initial-cluster', `lab=${peer}`],
		])
		const mq = hostPort(this.config.mqtt!.url)
		// mosquitto started as root runs as user mosquitto: its config must be readable by it
		writeFileSync(join(DIR, 'mosquitto.conf'), `listener ${mq.port} ${mq.host}\nallow_anonymous true\n`, {
			mode: 0o644,
		})
		this.run('mosquitto', 'mosquitto', ['-c', resolve(DIR, 'mosquitto.conf')])
		await waitTcp(etcd.port, etcd.host, 10_000, 'etcd')
		await waitTcp(mq.port, mq.host, 10_000, 'mosquitto')
		await this.lab.sims.start()
		this.lab.sims.preset()
		const doc = parseYaml(readFileSync(this.file, 'utf8')) as Record<string, Record<string, unknown>>
		const { host, port } = splitListen(this.config.http?.listen ?? '127.0.0.1:8090')
		NODES.forEach((n, i) => {
			const http = port + i
			this.http.set(n, http)
			const f = join(DIR, `${n}.yaml`)
			const nodeDoc = {
				...doc,
				http: { ...doc['http'], listen: `${host}:${http}` },
				journal: { dir: join(DIR, `journal-${n}`) },
			}
			writeFileSync(f, stringify(nodeDoc))
			this.files.set(n, f)
		})
		this.startNode('a')
		// b once a leads, so that the lab starts the same way every time
		await this.until(async () => (await this.view('a'))?.node.role === 'active', 20_000, 'node a to lead')
		this.startNode('b')
		await this.until(async () => (await this.view('b'))?.node.role === 'standby', 20_000, 'node b to follow')
	}

	/** `sigpath run --config .lab/pair/NODE.yaml --node NODE`, its log in .lab/pair/NODE.log */
	startNode(n: Name): void {
		const p = this.procs.get(n)
		if (p && p.exitCode === null && p.signalCode === null) throw new PairError(`node ${n} is running`)
		const args = [...process.execArgv, process.argv[1]!, 'run', '--config', this.files.get(n)!, '--node', n]
		const out = openSync(join(DIR, `${n}.log`), 'a')
		const child = spawn(process.execPath, args, { stdio: ['ignore', out, out] })
		closeSync(out)
		this.procs.set(n, child)
	}

	async view(n: Name): Promise<NodeView | null> {
		try {
			const r = await fetch(`http://127.0.0.1:${this.http.get(n)}/status`, { signal: AbortSignal.timeout(500) })
			return r.ok ? ((await r.json()) as NodeView) : null
		} catch {
			return null
		}
	}

	/** The node that says it is active (null: none answers so). */
	async active(): Promise<Name | null> {
		for (const n of NODES) if ((await this.view(n))?.node.role === 'active') return n
		return null
	}

	signal(n: Name, sig: NodeJS.Signals): void {
		const p = this.procs.get(n)
		if (!p || p.exitCode !== null || p.signalCode !== null) throw new PairError(`node ${n} is not running`)
		p.kill(sig)
		if (sig === 'SIGSTOP') this.paused = n
		if (sig === 'SIGCONT') this.paused = undefined
	}

	get pausedNode(): Name | undefined {
		return this.paused
	}

	fault(action: FaultAction, device: string): Promise<string> {
		return this.lab.fault({ action, device })
	}

	async stop(): Promise<void> {
		for (const [, p] of this.procs)
			if (p.exitCode === null && p.signalCode === null) {
				p.kill('SIGCONT')
				p.kill('SIGTERM')
			}
		await Promise.all(
			[...this.procs.values()].map((p) =>
				p.exitCode !== null || p.signalCode !== null
					? Promise.resolve()
					: new Promise<void>((r) => p.once('exit', () => r())),
			),
		)
		for (const { child } of this.children.reverse()) if (child.exitCode === null) child.kill('SIGTERM')
		await this.lab.sims.stop()
	}

	private run(what: string, bin: string, args: string[]): void {
		const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'ignore'] })
		this.children.push({ what, child })
	}

	private async until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
		const end = Date.now() + ms
		while (!(await cond())) {
			if (Date.now() > end) throw new PairError(`timed out waiting for ${what} (logs: ${DIR}/)`)
			await new Promise((r) => setTimeout(r, 100))
		}
	}
}

/** The pair's console: roles as they change, takeovers timed from the kill or pause, the commands. */
export async function runPair(file: string, config: Config, log: Logger, io: CliIo, demo: boolean): Promise<number> {
	const pair = new PairLab(file, config, log)
	io.out(`sigpath lab --pair: ${config.site.name ?? config.site.id}: etcd, mosquitto, the devices, nodes a and b...\n`)
	try {
		await pair.start()
	} catch (err) {
		await pair.stop()
		if (err instanceof PairError) {
			io.err(`${err.message}\n`)
			return 1
		}
		throw err
	}
	for (const n of NODES)
		io.out(
			`node ${n}: status http://127.0.0.1:${pair.http.get(n)}/status, dashboard http://127.0.0.1:${pair.http.get(n)}/\n`,
		)
	io.out(
		`mqtt: ${config.mqtt!.url} (sigpath/${config.site.id}/online, sigpath/${config.site.id}/nodes/+/state)\n${HELP}\n`,
	)
	let hit: { at: number; node: Name; how: string } | undefined
	const roles = new Map<Name, string>()
	const watch = setInterval(() => {
		void (async () => {
			for (const n of NODES) {
				const v = await pair.view(n)
				const role = v
					? `${v.node.role}${v.node.role === 'standby' ? ` (active: ${v.node.active ?? 'none'})` : ''}`
					: 'not answering'
				if (roles.get(n) === role) continue
				roles.set(n, role)
				io.out(`${time()} node ${n}: ${role}\n`)
				if (v?.node.role === 'active' && hit && hit.node !== n) {
					io.out(
						`${time()} TAKEOVER: ${n} active ${Date.now() - hit.at} ms after ${hit.how} of ${hit.node} (the bound: leaseMs + 1000 = ${config.ha!.leaseMs + 1000} ms)\n`,
					)
					hit = undefined
				}
			}
		})()
	}, 100)
	const hitActive = async (sig: 'SIGKILL' | 'SIGSTOP'): Promise<void> => {
		const n = await pair.active()
		if (!n) return void io.out('! no node is active now\n')
		pair.signal(n, sig)
		hit = { at: Date.now(), node: n, how: sig === 'SIGKILL' ? 'SIGKILL' : 'SIGSTOP' }
		io.out(`${time()} ${sig} node ${n} (the active)\n`)
	}
	const line = async (text: string): Promise<boolean> => {
		const [word = '', arg] = text.trim().split(/\s+/)
		try {
			if (word === '') return false
			if (word === 'quit' || word === 'exit') return true
			if (word === 'kill') await hitActive('SIGKILL')
			else if (word === 'pause') await hitActive('SIGSTOP')
			else if (word === 'resume') {
				const n = pair.pausedNode
				if (!n) io.out('! no node is paused\n')
				else {
					pair.signal(n, 'SIGCONT')
					io.out(`${time()} SIGCONT node ${n}: past its lease, by its own clock it sends nothing\n`)
				}
			} else if (word === 'start' && (arg === 'a' || arg === 'b')) {
				pair.startNode(arg)
				io.out(`${time()} node ${arg} starting\n`)
			} else if ((word === 'cut' || word === 'restore') && arg)
				io.out(`${time()} FAULT ${await pair.fault(word, arg)}\n`)
			else if (word === 'state')
				for (const n of NODES) {
					const v = await pair.view(n)
					io.out(`  node ${n}: ${v ? `${v.node.role}, active ${v.node.active ?? 'none'}` : 'not answering'}\n`)
					for (const f of v?.feeds ?? [])
						io.out(`    ${f.event}/${f.feed} ${f.mode}${f.locked ? ' locked' : ''} on ${f.active ?? '?'}\n`)
				}
			else io.out(`${HELP}\n`)
		} catch (err) {
			io.out(`! ${(err as Error).message}\n`)
		}
		return false
	}
	const timers: NodeJS.Timeout[] = []
	if (demo) {
		io.out(
			'demo: in 10 s the active node is killed (SIGKILL); the standby takes over; 10 s later the dead node comes back as standby\n',
		)
		timers.push(
			setTimeout(() => {
				void pair.active().then((n) => {
					void line('kill')
					if (n) timers.push(setTimeout(() => void line(`start ${n}`), 10_000))
				})
			}, 10_000),
		)
	}
	return new Promise<number>((resolveExit) => {
		let stopping = false
		const finish = () => {
			if (stopping) return
			stopping = true
			clearInterval(watch)
			for (const t of timers) clearTimeout(t)
			io.out('\nsigpath lab --pair: stopping\n')
			void pair.stop().then(() => resolveExit(0))
		}
		process.once('SIGINT', finish)
		process.once('SIGTERM', finish)
		const rl = createInterface({ input: process.stdin, terminal: false })
		rl.on('line', (l) => void line(l).then((quit) => quit && finish()))
	})
}

function time(): string {
	return new Date().toISOString().slice(11, 23)
}
