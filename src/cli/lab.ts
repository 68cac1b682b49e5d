// `sigpath lab [FILE]` (what `npm start` runs): a simulated BOC on loopback. Every device of the config (default
// config/lab.yaml) simulated in its real protocol, mosquitto with passwords and the production ACL, the daemon and
// its status endpoint, a fault console on stdin and over HTTP, and a scripted failover so that a newcomer sees one
// in the first minute.
import { mkdirSync, rmSync } from 'node:fs'
import { resolve, sep } from 'node:path'
import { createServer, type Server } from 'node:http'
import { createInterface, type Interface } from 'node:readline'
import { pino } from 'pino'
import type { Config } from '../domain/config.ts'
import { loadConfigFile } from '../domain/load.ts'
import { rankPaths } from '../domain/model.ts'
import { splitListen } from '../domain/primitives.ts'
import { effectiveFacs } from '../domain/facs.ts'
import { LAB_PANELS, type LabBroker } from '../lab/broker.ts'
import { LabError } from '../lab/errors.ts'
import { labFacs } from '../lab/facs.ts'
import { FAULTS, FaultError, Lab, type Fault, type FaultAction } from '../lab/lab.ts'
import { runPair } from '../lab/pair.ts'
import { createLogger } from '../log.ts'
import type { Daemon } from '../runtime/daemon.ts'
import { parse, UsageError, type CliIo, type Command } from './io.ts'
import type { StatusServer } from '../status/server.ts'
import { startStatus } from './status-hook.ts'

const USAGE = 'sigpath lab [FILE] [--no-demo] | sigpath lab --pair [FILE] [--no-demo]'
const HELP = `fault console: cut DEVICE | restore DEVICE | degrade DEVICE [RATE] | black DEVICE | freeze DEVICE | silence DEVICE | battery UPS | low-battery UPS | online UPS | drop ROUTER | state | facs EVENT [FEED] | help | quit`

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(argv, { 'no-demo': { type: 'boolean' }, pair: { type: 'boolean' } }, USAGE)
	if (positionals.length > 1) throw new UsageError(`expected at most one FILE\nusage: ${USAGE}`)
	const file = positionals[0] ?? (values.pair ? 'config/lab-pair.yaml' : 'config/lab.yaml')
	const config = loadConfigFile(file)
	// a pair of controllers (docs/contract.md §9): src/lab/pair.ts
	if (values.pair) return runPair(file, config, createLogger('warn', pino.destination(2)), io, !values['no-demo'])
	mkdirSync('.lab', { recursive: true })
	// the lab starts from a clean slate: its journal is its own, under .lab/
	const journal = config.journal?.dir
	if (journal !== undefined && resolve(journal).startsWith(`${resolve('.lab')}${sep}`))
		rmSync(journal, { recursive: true, force: true })
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
		dir: '.lab',
		onDaemon: async (daemon) => {
			const started = await startStatus(daemon, config, daemonLog)
			status = started.server
			statusUrl = started.url
			narrate(daemon, io)
		},
	})
	io.out(`sigpath lab: ${config.site.name ?? config.site.id}: starting the simulated devices...\n`)
	let faultApi: { server: Server; url: string }
	try {
		await lab.start()
		faultApi = await startFaultApi(lab, config.http?.listen ?? '127.0.0.1:8080')
	} catch (err) {
		await status?.stop()
		await lab.stop()
		daemonLog.flush()
		const why = startProblem(err)
		if (why === undefined) throw err
		io.err(`sigpath lab: ${why}\n`)
		return 1
	}
	const daemon = lab.daemon!
	await waitReady(daemon, 15_000)
	for (const n of lab.sims.notes) io.out(`note: ${n}\n`)
	if (statusUrl) io.out(`status: ${statusUrl}/status\ndashboard: ${statusUrl}/\n`)
	printMqtt(config, lab.broker, lab.mqttUrl, io)
	io.out(`daemon log: .lab/daemon.log\n`)
	const example = lab.sims.srt.keys().next().value ?? lab.simulated()[0] ?? 'DEVICE'
	io.out(`faults over HTTP: curl -X POST ${faultApi.url}/faults -d '{"action":"cut","device":"${example}"}'\n`)
	io.out(`${HELP}\n`)
	printState(daemon, io)

	let rl: Interface | undefined
	let stopping = false
	const stop = async () => {
		if (stopping) return
		stopping = true
		clearTimeout(demo)
		io.out('\nsigpath lab: stopping\n')
		// the console's readline holds stdin open: while it is open the process cannot exit (a `quit` that only
		// printed "stopping" and hung). Closed first, so nothing typed during the stop is taken as a command.
		rl?.close()
		await new Promise<void>((resolve) => {
			faultApi.server.close(() => resolve())
			faultApi.server.closeAllConnections()
		})
		await status?.stop()
		await lab.stop()
		daemonLog.flush()
	}
	const demo = values['no-demo'] ? undefined : scheduleDemo(lab, io)
	return new Promise<number>((resolve) => {
		const finish = () => void stop().then(() => resolve(0))
		process.once('SIGINT', finish)
		process.once('SIGTERM', finish)
		rl = createInterface({ input: process.stdin, terminal: false })
		rl.on('line', (line) => void consoleLine(lab, line.trim(), io).then((quit) => quit && finish()))
	})
}

/** One line for what keeps the lab from starting (a missing peer, a port taken); undefined: a bug, thrown. */
function startProblem(err: unknown): string | undefined {
	if (err instanceof LabError) return err.message
	for (let e: unknown = err; e instanceof Error; e = e.cause) {
		const code = (e as NodeJS.ErrnoException).code
		if (code === 'EADDRINUSE')
			return `${(err as Error).message}: the address is taken (another lab or daemon?); stop it, or change the ports in the lab config`
	}
	return undefined
}

/** Where panels connect, as whom, and a command line that works against this lab as printed. */
function printMqtt(config: Config, broker: LabBroker | undefined, url: string, io: CliIo): void {
	if (!broker) {
		io.out(`mqtt: ${url} (the config's broker)\n`)
		return
	}
	const users = LAB_PANELS.map((p) => `${p.username}/${p.password}`).join(', ')
	io.out(`mqtt: ${url} (mosquitto, MQTT v5; panel users ${users}; ACL ${broker.dir}/acl)\n`)
	const example = panelExample(config, broker)
	if (example) io.out(`a panel's take: ${example}\n`)
}

/** A take by panel1 of the first feed that has a second path: the README's line for the lab. */
export function panelExample(config: Config, broker: { host: string; port: number }): string | undefined {
	for (const ev of config.events)
		for (const feed of ev.feeds) {
			const second = rankPaths(feed.paths, config.policy.approvedMethods)[1]
			if (!second) continue
			const host = broker.host === '127.0.0.1' || broker.host === 'localhost' ? '' : ` -h ${broker.host}`
			const port = broker.port === 1883 ? '' : ` -p ${broker.port}`
			const panel = LAB_PANELS[0]
			const payload = JSON.stringify({ action: 'take', path: second.id, operator: 'bco-1' })
			return `mosquitto_pub -V mqttv5${host}${port} -u ${panel.username} -P ${panel.password} -t sigpath/${config.site.id}/panels/${panel.username}/feeds/${ev.id}/${feed.id}/set -m '${payload}'`
		}
	return undefined
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
			`${time()} ALARM ${a.state === 'acknowledged' ? `ACKNOWLEDGED by ${a.ack?.by ?? '?'}` : a.severity.toUpperCase()} ${a.code}${a.feed ? ` ${a.feed}` : ''}${a.device ? ` ${a.device}` : ''}: ${a.message}\n`,
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
		server.once('error', (err) =>
			reject(new Error(`the fault API cannot listen on 127.0.0.1:${port + 1}`, { cause: err })),
		)
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
