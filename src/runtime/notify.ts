// systemd's notify protocol (sd_notify(3)): READY=1 after the first sync, WATCHDOG=1 from the main loop while
// healthy, STATUS= lines, STOPPING=1, RELOADING=1. The protocol is one datagram on the Unix socket named by
// $NOTIFY_SOCKET. Node's dgram has no Unix datagram sockets, so we use npm `unix-dgram` (a small, maintained
// native binding) rather than a native helper of our own: the protocol needs nothing else.
//
// Abstract socket names (`@...`, used in some containers) are not supported by unix-dgram: then we say so once and
// run on without notifications.
import { createRequire } from 'node:module'
import type { Logger } from 'pino'
import type { UnixDgramSocket } from 'unix-dgram'

const require = createRequire(import.meta.url)

export class SystemdNotifier {
	private socket: UnixDgramSocket | undefined
	private readonly path: string | undefined
	private watchdog: NodeJS.Timeout | undefined
	readonly watchdogMs: number | undefined

	constructor(
		private readonly log: Logger,
		env: NodeJS.ProcessEnv = process.env,
	) {
		const path = env['NOTIFY_SOCKET']
		if (path === undefined || path === '') return
		if (path.startsWith('@')) {
			log.warn({ socket: path }, 'systemd: abstract notify sockets are not supported; running without notifications')
			return
		}
		this.path = path
		const usec = Number(env['WATCHDOG_USEC'])
		const pid = env['WATCHDOG_PID']
		if (Number.isFinite(usec) && usec > 0 && (pid === undefined || Number(pid) === process.pid))
			this.watchdogMs = usec / 1000
		try {
			const { createSocket } = require('unix-dgram') as typeof import('unix-dgram')
			this.socket = createSocket('unix_dgram')
			this.socket.on('error', (err: Error) => this.log.warn({ err: err.message }, 'systemd notify socket error'))
		} catch (err) {
			log.warn({ err }, 'systemd: the notify socket could not be created; running without notifications')
		}
	}

	get enabled(): boolean {
		return this.socket !== undefined
	}

	send(...lines: string[]): void {
		const socket = this.socket
		if (!socket || this.path === undefined) return
		const buf = Buffer.from(lines.join('\n'))
		socket.send(buf, 0, buf.length, this.path, (err?: Error) => {
			if (err) this.log.warn({ err: err.message, lines }, 'systemd notify failed')
		})
	}

	ready(status: string): void {
		this.send('READY=1', `STATUS=${status}`, `MAINPID=${process.pid}`)
	}

	status(text: string): void {
		this.send(`STATUS=${text}`)
	}

	reloading(): void {
		this.send('RELOADING=1', `MONOTONIC_USEC=${(process.hrtime.bigint() / 1000n).toString()}`)
	}

	stopping(status = 'stopping'): void {
		this.send('STOPPING=1', `STATUS=${status}`)
	}

	/**
	 * Sends WATCHDOG=1 at half the watchdog period, from the event loop (a stuck loop sends nothing), and only while
	 * `healthy()` says so: a daemon that cannot decide must be restarted rather than kept alive (a failing journal is not
	 * that: the daemon goes on controlling and raises `journal-failed`).
	 */
	startWatchdog(healthy: () => boolean): void {
		if (!this.enabled || this.watchdogMs === undefined || this.watchdog) return
		this.watchdog = setInterval(
			() => {
				if (healthy()) this.send('WATCHDOG=1')
				else this.log.error('unhealthy: withholding the systemd watchdog ping')
			},
			Math.max(100, Math.floor(this.watchdogMs / 2)),
		)
	}

	close(): void {
		if (this.watchdog) clearInterval(this.watchdog)
		this.watchdog = undefined
		try {
			this.socket?.close()
		} catch (err) {
			this.log.debug({ err }, 'systemd notify socket close')
		}
		this.socket = undefined
	}
}
