// `sigpath lab [FILE]` (what `npm start` runs): a simulated BOC on loopback. Every device of the config (default
// config/lab.yaml) simulated in its real protocol, the embedded MQTT broker, the daemon and its status endpoint,
// a fault console on stdin and over HTTP, and a scripted failover so that a newcomer sees one in the first minute.
import { mkdirSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createInterface } from 'node:readline'
import { pino } from 'pino'
import { loadConfigFile } from '../domain/load.ts'
import { splitListen } from '../domain/primitives.ts'
import { effectiveFacs } from '../domain/facs.ts'
import { labFacs } from '../lab/facs.ts'
import { FAULTS, FaultError, Lab, type Fault, type FaultAction } from '../lab/lab.ts'
import { createLogger } from '../log.ts'
import type { Daemon } from '../runtime/daemon.ts'
import { parse, UsageError, type CliIo, type Command } from './io.ts'
import type { StatusServer } from '../status/server.ts'
import { startStatus } from './status-hook.ts'

const USAGE = 'sigpath lab [FILE] [--no-demo]'
const HELP = `fault console: cut DEVICE | restore DEVICE | degrade DEVICE [RATE] | black DEVICE | freeze DEVICE | silence DEVICE | battery UPS | low-battery UPS | online UPS | drop ROUTER | state | facs EVENT [FEED] | help | quit`

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(argv, { 'no-demo': { type: 'boolean' } }, USAGE)
	if (positionals.length > 1) throw new UsageError(`expected at most one FILE\nusage: ${USAGE}`)
	const file = positionals[0] ?? 'config/lab.yaml'
	const config = loadConfigFile(file)
	mkdirSync('.lab', { recursive: true })
	// the lab starts from a clean slate: its journal is its own, under .lab/
	if (config.journal?.dir === '.lab/journal') rmSync('.lab/journal', { recursive: true, force: true })
	// the console belongs to the operator: the daemon's JSON log goes to a file
	const daemonLog = pino(
		{ level: config.log?.level ?? 'info' },
		pino.destination({ dest: '.lab/daemon.log', sync: false, mkdir: true }),
	)
	const log = createLogger('warn', pino.destination(2))
	let statusUrl: string | undefined
	let status: StatusServer | undefined
	const lab = new Lab({
		config,
		log,
		daemonLog,
		onDaemon: async (daemon) => {
			const started = await startStatus(daemon, config, daemonLog)
			status = started.server
			statusUrl = started.url
			narrate(daemon, io)
		},
	})
	io.out(
		`sigpath lab: ${config.site.name ?? config.site.id}: starting ${lab.sims.constructor.name === 'Sims' ? 'the simulated devices' : ''}...\n`,
	)
	await lab.start()
	const daemon = lab.daemon!
	await waitReady(daemon, 15_000)
	for (const n of lab.sims.notes) io.out(`note: ${n}\n`)
	if (statusUrl) io.out(`status: ${statusUrl}/status\ndashboard: ${statusUrl}/\n`)
	io.out(`mqtt: ${lab.mqttUrl} (panels publish to sigpath/${config.site.id}/feeds/EVENT/FEED/set)\n`)
	io.out(`daemon log: .lab/daemon.log\n`)
	const faultApi = await startFaultApi(lab, config.http?.listen ?? '127.0.0.1:8080')
	io.out(`faults over HTTP: curl -X POST ${faultApi.url}/faults -d '{"action":"cut","device":"srt-wbc"}'\n`)
	io.out(`${HELP}\n`)
	printState(daemon, io)

	let stopping = false
	const stop = async () => {
		if (stopping) return
		stopping = true
		clearTimeout(demo)
		io.out('\nsigpath lab: stopping\n')
		faultApi.server.close()
		await status?.stop()
		await lab.stop()
		daemonLog.flush()
	}
	const demo = values['no-demo'] ? undefined : scheduleDemo(lab, io)
	return new Promise<number>((resolve) => {
		const finish = () => void stop().then(() => resolve(0))
		process.once('SIGINT', finish)
		process.once('SIGTERM', finish)
		if (process.stdin.isTTY || !process.stdin.readableEnded) {
			const rl = createInterface({ input: process.stdin, terminal: false })
			rl.on('line', (line) => void consoleLine(lab, line.trim(), io).then((quit) => quit && finish()))
		}
	})
}

async function waitReady(daemon: Daemon, ms: number): Promise<void> {
	const deadline = Date.now() + ms
	while (!daemon.isReady() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
}

/** Switches and alarms, in an operator's words, on the console. */
function narrate(daemon: Daemon, io: CliIo): void {
	daemon.events.on('switch', (s) =>
		io.out(
			`${time()} SWITCH ${s.feed}: ${s.from} -> ${s.to} (${s.cause}), confirmed on the router tally in ${(s.confirmedAt - s.sentAt).toFixed(1)} ms\n`,
		),
	)
	daemon.events.on('alarm', (a) =>
		io.out(
			`${time()} ALARM ${a.severity.toUpperCase()} ${a.code}${a.feed ? ` ${a.feed}` : ''}${a.device ? ` ${a.device}` : ''}: ${a.message}\n`,
		),
	)
}

function time(): string {
	return new Date().toISOString().slice(11, 23)
}

function printState(daemon: Daemon, io: CliIo): void {
	for (const f of daemon.status().feeds) {
		const paths = f.paths.map((p) => `${p.id === f.active ? '*' : ' '}${p.id}:${p.signal ?? '-'}/${p.state}`).join('  ')
		io.out(
			`  ${f.event}/${f.feed} [${f.tier}] ${f.mode}${f.locked ? ' locked' : ''} on ${f.active ?? '?'}   ${paths}\n`,
		)
	}
}

async function consoleLine(lab: Lab, line: string, io: CliIo): Promise<boolean> {
	if (line === '') return false
	const [word = '', device, arg] = line.split(/\s+/)
	if (word === 'quit' || word === 'exit') return true
	if (word === 'help') {
		io.out(`${HELP}\nsimulated devices: ${lab.simulated().join(', ')}\n`)
		return false
	}
	if (word === 'state') {
		printState(lab.daemon!, io)
		return false
	}
	if (word === 'facs') {
		await labFacs(lab.daemon!, device, arg, io)
		return false
	}
	if (!(FAULTS as readonly string[]).includes(word) || device === undefined) {
		io.out(`? ${HELP}\n`)
		return false
	}
	try {
		const rate = arg !== undefined ? Number(arg) : undefined
		const done = await lab.fault({
			action: word as FaultAction,
			device,
			...(rate !== undefined && Number.isFinite(rate) ? { rate } : {}),
		})
		io.out(`${time()} FAULT ${done}\n`)
	} catch (err) {
		io.out(`! ${(err as Error).message}\n`)
	}
	return false
}

/** The fault console over HTTP, on the port after the status endpoint's, loopback only. */
async function startFaultApi(lab: Lab, statusListen: string): Promise<{ server: Server; url: string }> {
	const { port } = splitListen(statusListen)
	const server = createServer((req, res) => {
		const reply = (code: number, body: object) => {
			res.writeHead(code, { 'content-type': 'application/json' })
			res.end(`${JSON.stringify(body)}\n`)
		}
		if (req.url !== '/faults') return reply(404, { ok: false, error: 'POST /faults {"action","device","rate"?}' })
		if (req.method !== 'POST') return reply(405, { ok: false, error: 'POST only' })
		let body = ''
		req.on('data', (d: Buffer) => {
			body += d.toString()
			if (body.length > 4096) req.destroy()
		})
		req.on('end', () => {
			let f: Fault
			try {
				f = JSON.parse(body) as Fault
			} catch {
				return reply(400, { ok: false, error: 'body is not JSON' })
			}
			if (!(FAULTS as readonly string[]).includes(f.action) || typeof f.device !== 'string')
				return reply(400, { ok: false, error: `action is one of ${FAULTS.join(', ')}; device is a device id` })
			lab.fault(f).then(
				(done) => reply(200, { ok: true, done }),
				(err: unknown) => reply(err instanceof FaultError ? 400 : 500, { ok: false, error: (err as Error).message }),
			)
		})
	})
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject)
		server.listen(port + 1, '127.0.0.1', () => resolve())
	})
	return { server, url: `http://127.0.0.1:${port + 1}` }
}

/**
 * The newcomer's first minute: 15 s after start the Big Bet's active path is cut at the venue; sigpath fails over
 * on the router; 25 s later the path comes back and, once it has stayed clean for clearMs, sigpath returns to it.
 */
function scheduleDemo(lab: Lab, io: CliIo): NodeJS.Timeout | undefined {
	const daemon = lab.daemon!
	const feed = daemon.status().feeds.find((f) => f.critical && f.active !== null)
	if (!feed) return undefined
	const ref = daemon.model.feeds.get(`${feed.event}/${feed.feed}`)!
	const path = ref.feed.paths.find((p) => p.id === feed.active)
	const device = path?.via.find((d) => lab.simulated().includes(d))
	if (!device) return undefined
	io.out(
		`demo: in 15 s the venue loses path ${path!.id} of ${feed.event}/${feed.feed} (${device}); watch the dashboard\n`,
	)
	return setTimeout(() => {
		void lab.fault({ action: 'cut', device }).then((done) => {
			io.out(`${time()} DEMO ${done}\n`)
			setTimeout(() => {
				void lab.fault({ action: 'restore', device }).then((d2) => {
					io.out(`${time()} DEMO ${d2}; sigpath returns to it after ${ref.feed.failover.clearMs} ms clean\n`)
					// then the facilities check of that feed, if the config gives it a QC output
					if (effectiveFacs(ref.event, ref.feed).qcOutput)
						setTimeout(
							() => void labFacs(daemon, ref.event.id, ref.feed.id, io),
							ref.feed.failover.clearMs + 5000,
						).unref()
				})
			}, 25_000).unref()
		})
	}, 15_000)
}
