// The lab's MQTT broker: a real mosquitto, as in a BOC. Users with passwords (mosquitto_passwd) and the production
// ACL (config/mosquitto.acl) are written into the lab's scratch directory, and mosquitto listens on loopback. The
// daemon connects as its own user `sigpath` with a password made for this run; panels connect as panel1 and panel2
// with fixed lab passwords, so that the lines the README and the lab print work as they stand. MQTT v5 throughout.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { splitListen } from '../domain/primitives.ts'
import { LabError } from './errors.ts'

/** The panel users of the lab: loopback only, and printed by the lab. */
export const LAB_PANELS = [
	{ username: 'panel1', password: 'lab-panel1' },
	{ username: 'panel2', password: 'lab-panel2' },
] as const

/** the daemon's user, as the ACL names it */
export const DAEMON_USER = 'sigpath'

const ACL = new URL('../../config/mosquitto.acl', import.meta.url)
const INSTALL = 'apt-get install -y mosquitto mosquitto-clients (as root: npm ci does it)'

export interface LabBroker {
	host: string
	port: number
	url: string
	/** the daemon's credentials (its password made for this run) */
	daemon: { username: string; password: string }
	dir: string
	stop: () => Promise<void>
}

/** A command on the PATH or in the sbin directories a non-root PATH often lacks (Debian puts mosquitto there). */
function findCommand(name: string): string | undefined {
	const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']
	for (const d of dirs) if (d !== '' && existsSync(join(d, name))) return join(d, name)
	return undefined
}

export async function startLabBroker(o: { listen: string; dir: string; startMs?: number }): Promise<LabBroker> {
	const bin = findCommand('mosquitto')
	const passwd = findCommand('mosquitto_passwd')
	if (!bin || !passwd) throw new LabError(`mosquitto is not installed (the lab's MQTT broker): ${INSTALL}`)
	const { host, port } = splitListen(o.listen)
	// the port must be free before mosquitto starts: else the daemon would find another broker there and use it
	if (await accepts(host, port))
		throw new LabError(
			`the lab's MQTT port ${host}:${port} is taken (another lab or broker?): stop it, or set broker.listen in the lab config`,
		)
	rmSync(o.dir, { recursive: true, force: true })
	mkdirSync(o.dir, { recursive: true, mode: 0o700 })
	const daemon = { username: DAEMON_USER, password: randomBytes(18).toString('base64url') }
	const pwFile = join(o.dir, 'passwd')
	writeFileSync(pwFile, '', { mode: 0o600 })
	for (const u of [daemon, ...LAB_PANELS]) execFileSync(passwd, ['-b', pwFile, u.username, u.password])
	const aclFile = join(o.dir, 'acl')
	writeFileSync(aclFile, readFileSync(ACL), { mode: 0o600 })
	const logFile = join(o.dir, 'mosquitto.log')
	writeFileSync(
		join(o.dir, 'mosquitto.conf'),
		[
			`listener ${port} ${host}`,
			'allow_anonymous false',
			`password_file ${pwFile}`,
			`acl_file ${aclFile}`,
			'persistence false',
			// a control system wants its small replies out at once, not after a delayed ACK
			'set_tcp_nodelay true',
			// started as root, mosquitto would switch to user mosquitto, which cannot read a scratch directory under a
			// root-only home: the lab's broker stays the lab's user (it listens on loopback only)
			...(process.getuid?.() === 0 ? ['user root'] : []),
			'log_dest stderr',
			'log_type error',
			'log_type warning',
			'log_type notice',
			'',
		].join('\n'),
		{ mode: 0o600 },
	)
	const log = openSync(logFile, 'w')
	let child: ChildProcess
	try {
		child = spawn(bin, ['-c', join(o.dir, 'mosquitto.conf')], { stdio: ['ignore', log, log] })
	} finally {
		closeSync(log)
	}
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
	// a lab that dies without stopping must not leave its broker behind
	const orphan = () => child.kill('SIGKILL')
	process.once('exit', orphan)
	const stop = async () => {
		process.off('exit', orphan)
		if (child.exitCode !== null || child.signalCode !== null) return
		child.kill('SIGTERM')
		const kill = setTimeout(() => child.kill('SIGKILL'), 3000)
		await exited
		clearTimeout(kill)
	}
	try {
		await listening(host, port, child, o.startMs ?? 5000)
	} catch (err) {
		await stop()
		const said = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
		if (/address already in use/i.test(said))
			throw new LabError(
				`the lab's MQTT port ${host}:${port} is taken (another lab or broker?): stop it, or set broker.listen in the lab config`,
			)
		const last = said.trim().split('\n').pop() ?? ''
		throw new LabError(`mosquitto did not start on ${host}:${port}: ${last || (err as Error).message} (${logFile})`)
	}
	return {
		host,
		port,
		url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
		daemon,
		dir: o.dir,
		stop,
	}
}

async function listening(host: string, port: number, child: ChildProcess, ms: number): Promise<void> {
	const deadline = Date.now() + ms
	for (;;) {
		if (child.exitCode !== null || child.signalCode !== null) throw new Error('mosquitto exited')
		if (await accepts(host, port)) return
		if (Date.now() > deadline) throw new Error(`nothing listens after ${ms} ms`)
		await new Promise((r) => setTimeout(r, 25))
	}
}

function accepts(host: string, port: number): Promise<boolean> {
	return new Promise<boolean>((resolve) => {
		const s = connect({ host, port })
		s.once('connect', () => {
			s.destroy()
			resolve(true)
		})
		s.once('error', () => resolve(false))
	})
}
