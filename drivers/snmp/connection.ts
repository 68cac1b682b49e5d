// The per-device SNMP poll loop: one session, one timer, explicit state, freshness as a field.
//
// SNMP is UDP: there is no connection to lose, only answers that stop coming. "connected" therefore means "the
// last poll was answered"; a poll that fails after its retries makes the device disconnected at once, and
// `stale` once no good answer has come for `staleAfterMs`. Each device has its own session and timer, so a dead
// agent costs only its own timeoutMs * (retries + 1) and never delays another device's poll.
//
// An answer is good only once its consumer accepts it (`accept`): an agent that answers every GET but without the
// object its consumer needs (a UPS network card that lost its serial link to the UPS answers noSuchInstance for
// upsOutputSource) is not giving good answers, and counting it as one kept a UPS's last reading fresh forever
// (docs/contract.md §7: no good answer for staleMs is stale).
//
// States: idle (made, not started) -> polling (a request in flight) <-> waiting (timer armed until the next
// poll) | backoff (after a failed poll: capped exponential delay with jitter, and a fresh session, which also
// redoes SNMPv3 engine discovery after an agent restart) -> stopped (by us; final).
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { monotonicMs } from '../../src/clock.ts'
import { Backoff } from '../common/backoff.ts'
import { FreshnessTracker } from '../common/freshness.ts'
import type { Freshness } from '../types.ts'
import type { SnmpValue } from './codec.ts'
import { SnmpError, SnmpSession, type SnmpTargetConfig } from './session.ts'

export type PollerState = 'idle' | 'polling' | 'waiting' | 'backoff' | 'stopped'

export interface SnmpPollerOptions {
	/** the device's id, for its freshness transitions */
	device: string
	target: SnmpTargetConfig
	/** scalar OIDs read with one GET per poll */
	oids: readonly string[]
	pollMs: number
	/** no good answer for this long makes the device stale; default max(3 polls, one full request budget) */
	staleAfterMs?: number
	/**
	 * no good answer for this long is lost contact ("comm-lost" for a UPS); default max(15 s, 5 polls): NUT's
	 * upsmon DEADTIME is 15 s (docs/operations.md)
	 */
	commLostAfterMs?: number
	/**
	 * whether an answer is a good answer: null if it is, else why not (the consumer's decoding). A refused answer
	 * counts as no answer for freshness and is a `failed` event of kind `unusable`; default: every answer is good
	 */
	accept?: (values: Map<string, SnmpValue>) => string | null
	/** backoff cap after failed polls; default max(pollMs, 10 s) */
	maxBackoffMs?: number
	log: Logger
	/** jitter source in [0, 1); injectable for tests */
	random?: () => number
}

export interface SnmpPollerEvents {
	/** every answered poll whose answer `accept` took as good */
	values: [values: Map<string, SnmpValue>, at: number]
	/** a poll failed after its retries, or its answer was refused by `accept` (kind `unusable`) */
	failed: [error: SnmpError]
	/** connected or stale changed */
	freshness: [freshness: Freshness]
	/** contact lost (true) or regained (false) */
	commLost: [lost: boolean]
	state: [state: PollerState]
}

export class SnmpPoller extends EventEmitter<SnmpPollerEvents> {
	#state: PollerState = 'idle'
	#session: SnmpSession | null = null
	#timer: NodeJS.Timeout | null = null
	readonly #backoff: Backoff
	#again = false
	#phased = false
	/** connected, stale and comm-lost: "connected" here is "the last poll was answered" */
	readonly tracker: FreshnessTracker
	readonly #o: Required<SnmpPollerOptions>

	constructor(options: SnmpPollerOptions) {
		super()
		const budget = options.target.timeoutMs * (options.target.retries + 1)
		this.#o = {
			...options,
			staleAfterMs: options.staleAfterMs ?? Math.max(3 * options.pollMs, budget + options.pollMs),
			commLostAfterMs: options.commLostAfterMs ?? Math.max(15_000, 5 * options.pollMs),
			maxBackoffMs: options.maxBackoffMs ?? Math.max(options.pollMs, 10_000),
			random: options.random ?? Math.random,
			accept: options.accept ?? (() => null),
		}
		this.tracker = new FreshnessTracker({
			device: options.device,
			staleMs: this.#o.staleAfterMs,
			lostMs: this.#o.commLostAfterMs,
			staleDisconnects: true,
		})
		this.tracker.on('change', (f) => this.emit('freshness', f))
		this.tracker.on('lost', (lost) => this.emit('commLost', lost))
		// after a failed poll: the first retry is about one poll period away, doubling to the cap
		this.#backoff = new Backoff({ initialMs: this.#o.pollMs, maxMs: this.#o.maxBackoffMs, random: this.#o.random })
	}

	get state(): PollerState {
		return this.#state
	}

	get commLost(): boolean {
		return this.tracker.lost
	}

	get freshness(): Freshness {
		return this.tracker.value
	}

	/** The OIDs polled; may be replaced between polls (a profile resolved after the first read). */
	setOids(oids: readonly string[]): void {
		this.#o.oids = [...oids]
	}

	/**
	 * One GETBULK of table columns (RFC 3416 §4.2.3) on this device's session, outside the poll cadence (a UPS's
	 * alarm table, read only when its alarm count says there is something to read).
	 */
	async bulk(columns: readonly string[], maxRepetitions: number): Promise<Map<string, SnmpValue>> {
		if (this.#state === 'stopped') throw new SnmpError('snmp poller stopped', 'closed')
		const session = (this.#session ??= this.#newSession())
		return session.getBulk([], columns, maxRepetitions)
	}

	#newSession(): SnmpSession {
		return new SnmpSession(this.#o.target, {
			onError: (err) => this.#o.log.warn({ err }, 'snmp socket error'),
		})
	}

	start(): void {
		if (this.#state !== 'idle') return
		this.tracker.arm()
		void this.#poll()
	}

	/** Poll as soon as possible (a trap said something changed); coalesced with a poll in flight. */
	pollNow(): void {
		if (this.#state === 'stopped' || this.#state === 'idle') return
		if (this.#state === 'polling') {
			this.#again = true
			return
		}
		this.#clearTimer()
		void this.#poll()
	}

	stop(): void {
		if (this.#state === 'stopped') return
		this.#clearTimer()
		this.tracker.stop()
		this.#session?.close()
		this.#session = null
		this.#setState('stopped')
	}

	#setState(s: PollerState): void {
		if (this.#state === s) return
		this.#state = s
		this.emit('state', s)
	}

	/** The one place the poll timer is made. */
	#schedule(ms: number, state: 'waiting' | 'backoff'): void {
		this.#clearTimer()
		this.#setState(state)
		this.#timer = setTimeout(() => {
			this.#timer = null
			void this.#poll()
		}, ms)
	}

	/** The one place the poll timer is cleared. */
	#clearTimer(): void {
		if (this.#timer) clearTimeout(this.#timer)
		this.#timer = null
	}

	/** A method, not a field read: the state can change while a poll awaits its answer. */
	#polling(): boolean {
		return this.#state === 'polling'
	}

	/**
	 * An answer: good only if the consumer accepts it. A refused answer is no good answer for freshness, exactly as a
	 * silent agent (disconnected now, stale after staleAfterMs, comm-lost after commLostAfterMs: docs/contract.md §7),
	 * but the agent did answer, so unlike a failed poll the session is kept and the next poll comes at pollMs, not
	 * after a backoff: the socket and the agent's v3 engine are fine (a fresh session would redo discovery for
	 * nothing), and a UPS whose reading comes back is read within one poll, not up to maxBackoffMs later. Polling at
	 * pollMs costs the agent no more than a healthy device does.
	 */
	#answer(values: Map<string, SnmpValue>): void {
		const refused = this.#o.accept(values)
		if (refused !== null) {
			this.tracker.disconnected()
			const { host, port } = this.#o.target
			this.emit(
				'failed',
				new SnmpError(`snmp GET ${host}:${port}: answered, but no good answer: ${refused}`, 'unusable'),
			)
			return
		}
		this.tracker.ok()
		this.emit('values', values, this.tracker.value.lastOkAt ?? monotonicMs())
	}

	async #poll(): Promise<void> {
		if (this.#state === 'stopped' || this.#state === 'polling') return
		this.#setState('polling')
		const started = monotonicMs()
		this.#session ??= this.#newSession()
		let answered = false
		try {
			const values = await this.#session.get(this.#o.oids)
			if (!this.#polling()) return
			answered = true
			this.#backoff.reset()
			this.#answer(values)
		} catch (err) {
			if (!this.#polling()) return
			const e =
				err instanceof SnmpError ? err : new SnmpError(`snmp poll failed: ${String(err)}`, 'socket', { cause: err })
			// a fresh session for the next try: a restarted agent (new v3 engine boots/time) or a socket left in error
			this.#session.close()
			this.#session = null
			this.tracker.disconnected()
			this.emit('failed', e)
		}
		if (!this.#polling()) return
		if (this.#again) {
			this.#again = false
			this.#schedule(0, 'waiting')
			return
		}
		if (answered) {
			// keep the cadence (also after an answer `accept` refused: see #answer): the next poll is pollMs after this
			// one started, not after it ended. After the first answer, one random phase offset spreads devices started
			// together over the interval (a daemon starting 200 devices would otherwise send 200 GETs in the same
			// millisecond every second, forever). The offset brings that next poll forward, never back: no two polls
			// are ever more than pollMs apart, so a change is seen within one poll interval even right after the start
			// (a later offset once stretched the first interval to up to 2 * pollMs, and a UPS that went on battery then
			// was seen up to 4 s late at 2 s polls).
			const phase = this.#phased ? 0 : this.#o.random() * this.#o.pollMs
			this.#phased = true
			this.#schedule(Math.max(0, this.#o.pollMs - phase - (monotonicMs() - started)), 'waiting')
		} else {
			this.#schedule(this.#backoff.next(), 'backoff')
		}
	}
}
