// Loads sigpath's own libsrt binding (drivers/srt/native, built by `npm ci`'s install script, copied into dist/ by
// `npm run build`) and types it.
// libsrt's log lines are routed here to our logger, and listener-side rejections that libsrt only logs are
// picked out of them for the receivers.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { DriverUnavailableError } from '../types.ts'
import { parseRejectionLog, rejectCodeFromLogName } from './codec.ts'

/** srt_bistats figures of one connection (interval fields since the last stats tick, *Total since connect). */
export interface NativeConnStats {
	id: number
	peer: string
	streamId: string
	rttMs: number
	mbpsRecvRate: number
	mbpsSendRate: number
	pktRecv: number
	pktRcvLoss: number
	pktRcvDrop: number
	pktRcvRetrans: number
	byteRecv: number
	pktRecvTotal: number
	pktRcvLossTotal: number
	pktRcvDropTotal: number
	byteRecvTotal: number
	pktSent: number
	pktSndLoss: number
	pktRetrans: number
	pktSndDrop: number
	pktSentTotal: number
	pktSndLossTotal: number
	pktRetransTotal: number
	pktSndDropTotal: number
	msRcvBuf: number
	msRcvTsbPdDelay: number
	relayed: number
	relayErrors: number
	/** the receive path's transport stream check over the interval (ETSI TR 101 290 priority 1; tscheck.h) */
	tsPackets: number
	/** packets without the 0x47 sync byte, and datagrams that are not whole 188-byte packets */
	tsSyncErrors: number
	/** continuity_counter errors (per PID; null packets and packets without payload aside, one duplicate allowed) */
	tsCcErrors: number
	/** PID 0 not seen for more than 0.5 s (counted once per interval while it lasts), or not a PAT on it */
	tsPatErrors: number
	/** a PMT PID of the PAT not seen for more than 0.5 s */
	tsPmtErrors: number
}

/** Events of the native receiver and sender; every `at` is monotonic ms (CLOCK_MONOTONIC, as monotonicMs()). */
export type NativeEvent =
	| { type: 'connected'; id?: number; peer: string; streamId?: string; at: number }
	| {
			type: 'disconnected'
			id?: number
			peer: string
			streamId?: string
			cause: string
			reasonText: string
			at: number
			lastPacketAt?: number
			/** our own count of the packets and bytes read, and relayed, on this connection */
			packets: number
			bytes: number
			relayed: number
			/** libsrt's count of the packets that arrived (some may not have been read when it closed) */
			arrived: number
			/** libsrt's final figures, when it still had them */
			connections?: NativeConnStats[]
	  }
	| { type: 'rejected'; peer: string; streamId?: string; reasonCode: number; reasonText: string; at: number }
	| { type: 'signal'; signal: 'up' | 'down'; cause: string; at: number; detectedAt: number }
	/** stalledMs: the time the host stood still in the interval (steal, starvation) */
	| { type: 'stats'; at: number; intervalMs: number; stalledMs: number; connections: NativeConnStats[] }
	| { type: 'handshake'; id: number; peer: string; streamId: string; at: number }
	| { type: 'closed'; at: number }
	/** the silence watchdog started; realtime 1 when it got SCHED_FIFO (root, CAP_SYS_NICE or LimitRTPRIO >= 1) */
	| { type: 'watchdog'; realtime: number; at: number }
	| { type: 'error'; message: string }

export interface NativeSrtOptions {
	mode: 'listener' | 'caller'
	/** numeric address: the bind address (listener) or the remote one (caller) */
	host: string
	port: number
	latencyMs?: number
	streamId?: string
	passphrase?: string
	pbkeylen?: number
	payloadSize?: number
	connectTimeoutMs?: number
}

export interface NativeReceiverOptions extends NativeSrtOptions {
	silenceMs?: number
	statsIntervalMs?: number
	relayHost?: string
	relayPort?: number
	relayTtl?: number
}

export interface NativeSenderOptions extends NativeSrtOptions {
	bitrate?: number
	pid?: number
	/** send a PAT and a PMT (every 16th datagram) besides the payload PID */
	psi?: boolean
}

export interface NativeReceiver {
	/** binds (listener) or starts connecting (caller) and starts the receive thread; throws if it cannot */
	start(): { port: number }
	/** joins the thread and closes every socket; idempotent. Returns the final stats of the connections it closed. */
	stop(): NativeConnStats[]
}

export interface NativeSenderCounters {
	datagrams: number
	tsPackets: number
	dropped: number
	lastSentAt: number | null
	connected: boolean
	srt?: NativeConnStats
}

export interface NativeSender {
	start(): { port: number }
	/** asks the send thread to stop; joins it (true) only if it has finished or `wait`; else the "closed" event
	 * tells when stop(true) is immediate */
	stop(wait?: boolean): boolean
	setPaused(paused: boolean): void
	setBitrate(bps: number): void
	/** skip one continuity_counter value of the payload PID every n of its packets (0: none) */
	setCcErrors(n: number): void
	counters(): NativeSenderCounters
}

export interface SrtBinding {
	Receiver: new (options: NativeReceiverOptions, onEvent: (e: NativeEvent) => void) => NativeReceiver
	Sender: new (options: NativeSenderOptions, onEvent: (e: NativeEvent) => void) => NativeSender
	setLogHandler(fn: (level: number, area: string, message: string) => void, level: number): void
	clearLogHandler(): void
	monotonicMs(): number
	/** bytes the kernel holds unread for a local UDP port (4: /proc/net/udp, 6: udp6), -1 when unknown */
	kernelRxQueued(family: 4 | 6, port: number): number
	rejectReasonText(code: number): string
	srtVersion: string
}

/**
 * Where the binding is, one rule for the source tree and the built release: `native/build/Release/sigpath_srt.node`
 * beside this module. node-gyp builds it there in the source tree (drivers/srt/native/build/Release, `npm ci`'s
 * install script); scripts/build.mjs copies it to the same place under dist/ (dist/drivers/srt/native/build/Release),
 * beside the compiled native.js. No other place is searched: a binding found elsewhere could be another build's.
 */
export const BINDING_PATH = fileURLToPath(new URL('./native/build/Release/sigpath_srt.node', import.meta.url))

/** This module runs from the built release (dist/, compiled to .js), not from the sources through tsx. */
const IN_RELEASE = import.meta.url.endsWith('.js')

/**
 * A missing or unloadable binding: not a fault of any device, and not healed by retrying. The message is one line
 * for an operator, naming the path tried and the command that builds it.
 */
export class SrtBindingError extends DriverUnavailableError {
	override name = 'SrtBindingError'
}

let binding: SrtBinding | undefined

/** The binding, loaded once; a missing or broken build throws an error that names the fix. */
export function loadSrtBinding(): SrtBinding {
	binding ??= loadSrtBindingAt(BINDING_PATH)
	return binding
}

/** The command that puts the binding where loadSrtBinding looks, in the sources or in a release. */
function bindingFix(inRelease: boolean): string {
	const needs = 'pkg-config and libsrt-openssl-dev: `sudo apt-get install -y pkg-config libsrt-openssl-dev`'
	// A release gets the binding only from its build: the fix is to install the release again, not to compile in it.
	if (inRelease)
		return (
			'this release was built without it: install it again from a checkout with `systemd/install.sh` (its ' +
			`\`npm ci\` builds the binding and \`npm run build\` copies it into dist/), which needs ${needs}`
		)
	return `build it with \`npm_config_nodedir=/usr npx node-gyp rebuild -C drivers/srt/native\` (or \`npm ci\`), which needs ${needs}`
}

/** Loads the binding from `path` (loadSrtBinding's work; a path of its own for the tests of the error). */
export function loadSrtBindingAt(path: string, inRelease = IN_RELEASE): SrtBinding {
	const fix = bindingFix(inRelease)
	if (!existsSync(path)) throw new SrtBindingError(`the SRT binding is not built (${path} is missing): ${fix}`)
	try {
		return createRequire(import.meta.url)(path) as SrtBinding
	} catch (err) {
		// the loader's own reason (a missing libsrt, a Node ABI mismatch) is the useful part: its first line only
		const why = (err instanceof Error ? err.message : String(err)).split('\n')[0]
		throw new SrtBindingError(`the SRT binding ${path} does not load (${why}): ${fix}`, { cause: err })
	}
}

/** A listener-side rejection picked out of libsrt's log: the socket id the listen callback saw, and the code. */
export interface LoggedRejection {
	socketId: number
	reasonCode: number
	at: number
}

const rejectionWatchers = new Set<(r: LoggedRejection) => void>()
const recentRejections = new Map<number, LoggedRejection>()

/** A logged rejection of this socket id that arrived before its handshake event, taken once. */
export function takeLoggedRejection(socketId: number): LoggedRejection | undefined {
	const r = recentRejections.get(socketId)
	recentRejections.delete(socketId)
	return r
}
let logger: Logger | undefined

// syslog levels as libsrt uses them (logging_api.h: LOG_ERR 3 ... LOG_DEBUG 7)
function logAt(log: Logger, level: number, area: string, message: string): void {
	const line = { srtArea: area }
	if (level <= 3) log.error(line, message)
	else if (level === 4) log.warn(line, message)
	else if (level <= 6) log.info(line, message)
	else log.debug(line, message)
}

/**
 * Routes libsrt's log (process-wide in libsrt) to `log`. Warning level is the least we ask for: the listener
 * learns of a bad passphrase only from libsrt's warning line. Lines are never blocking: libsrt's threads drop a
 * line rather than wait for the JS thread.
 */
export function routeSrtLogs(log: Logger): void {
	const b = loadSrtBinding()
	logger = log
	b.setLogHandler((level, area, message) => {
		const r = parseRejectionLog(message)
		if (r) {
			const code = rejectCodeFromLogName(r.reasonName)
			if (code !== undefined) {
				const rej = { socketId: r.socketId, reasonCode: code, at: b.monotonicMs() }
				// The log line and the receiver's handshake event travel on different queues: either may come first.
				recentRejections.set(rej.socketId, rej)
				if (recentRejections.size > 256) recentRejections.delete(recentRejections.keys().next().value!)
				for (const w of rejectionWatchers) w(rej)
			}
		}
		if (logger) logAt(logger, level, area, message)
	}, 4)
}

/** Watches listener-side rejections that libsrt reports only in its log; returns the unwatch function. */
export function watchLoggedRejections(fn: (r: LoggedRejection) => void): () => void {
	rejectionWatchers.add(fn)
	return () => {
		rejectionWatchers.delete(fn)
	}
}
