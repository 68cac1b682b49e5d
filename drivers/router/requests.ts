// The takes and lock requests waiting for the router's own report: each settles on the tally (or lock state) the
// router reports, on its refusal, on its timeout, or when the link drops. Timers live in the router's Timers, keyed
// per output, so stop() clears them all in one place.
import { monotonicMs } from '../../src/clock.ts'
import type { Timers } from '../common/timers.ts'
import { RouterError, type Crosspoint, type LockState, type TakeResult } from './types.ts'

interface PendingTake {
	input: number
	sentAt: number
	resolve: (r: TakeResult) => void
	reject: (e: RouterError) => void
	/** set once the router has accepted the request (ACK): from then on a contrary tally is the router's answer */
	accepted: boolean
	/** a tally showing another input after acceptance (SW-P-08): the take is refused unless ours follows soon */
	contrary: number | null
	timeoutMs: number
}

interface PendingLock {
	want: LockState
	resolve: () => void
	reject: (e: RouterError) => void
}

/**
 * After a contrary tally, how long a take still waits for its own: another controller's CONNECTED may have been
 * queued at the router ahead of ours (the router ACKs our frame at once, its answers go out in order).
 */
export const CONTRARY_GRACE_MS = 250

export class Requests {
	readonly #takes = new Map<number, PendingTake>()
	readonly #locks = new Map<number, PendingLock>()

	constructor(
		private readonly deviceId: string,
		private readonly timers: Timers,
		/** the router's confirmed input on an output, for messages */
		private readonly shown: (output: number) => number | undefined,
	) {}

	get takeCount(): number {
		return this.#takes.size
	}

	get lockCount(): number {
		return this.#locks.size
	}

	hasTake(output: number): boolean {
		return this.#takes.has(output)
	}

	/** A take waiting for its tally; a take already waiting on the same output is superseded. */
	register(t: Crosspoint, timeoutMs: number, armNow: boolean): Promise<TakeResult> {
		const earlier = this.#takes.get(t.output)
		if (earlier) {
			this.#settle(t.output)
			earlier.reject(
				new RouterError(
					'superseded',
					`take of output ${t.output} to input ${earlier.input} replaced by input ${t.input}`,
				),
			)
		}
		return new Promise<TakeResult>((resolve, reject) => {
			this.#takes.set(t.output, {
				input: t.input,
				sentAt: monotonicMs(),
				resolve,
				reject,
				accepted: false,
				contrary: null,
				timeoutMs,
			})
			if (armNow) this.transmitted(t.output)
		})
	}

	/** the request carrying this take is on the wire: its timeout counts from now */
	transmitted(output: number): void {
		const p = this.#takes.get(output)
		if (!p || p.contrary !== null) return
		this.timers.set(`take:${output}`, p.timeoutMs, () => this.#expire(output, p.timeoutMs))
	}

	accepted(output: number): void {
		const p = this.#takes.get(output)
		if (p) p.accepted = true
	}

	/**
	 * The router reported this tally. Returns true when it confirms our take. With `refuseOnContrary`, a tally of
	 * another input after the router accepted ours starts the grace after which the take is refused.
	 */
	tally(output: number, input: number, at: number, refuseOnContrary: boolean): boolean {
		const p = this.#takes.get(output)
		if (!p) return false
		if (p.input === input) {
			this.#settle(output)
			p.resolve({ output, input, sentAt: p.sentAt, confirmedAt: at, already: false })
			return true
		}
		if (p.accepted && refuseOnContrary && p.contrary === null) {
			p.contrary = input
			this.timers.set(`take:${output}`, CONTRARY_GRACE_MS, () => this.#expire(output, CONTRARY_GRACE_MS))
		}
		return false
	}

	/** the router refused the request carrying this take */
	refuse(output: number, error: (input: number) => RouterError): void {
		const p = this.#takes.get(output)
		if (!p) return
		this.#settle(output)
		p.reject(error(p.input))
	}

	/** A lock request waiting for the router to report `want` on the output. */
	registerLock(output: number, want: LockState, timeoutMs: number): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			const earlier = this.#locks.get(output)
			if (earlier) earlier.reject(new RouterError('superseded', `lock request on output ${output} replaced`))
			this.#locks.set(output, { want, resolve, reject })
			this.timers.set(`lock:${output}`, timeoutMs, () => {
				this.#locks.delete(output)
				reject(
					new RouterError(
						'timeout',
						`router ${this.deviceId} did not report output ${output} ${want} within ${timeoutMs} ms`,
					),
				)
			})
		})
	}

	lockReported(output: number, lock: LockState): void {
		const p = this.#locks.get(output)
		if (!p || p.want !== lock) return
		this.#settleLock(output)
		p.resolve()
	}

	lockRefused(output: number, message: string): void {
		const p = this.#locks.get(output)
		if (!p) return
		this.#settleLock(output)
		p.reject(new RouterError('nak', message))
	}

	/** every request fails: the link dropped, or the router object stopped */
	failAll(code: 'disconnected' | 'stopped', message: string): void {
		for (const [output, p] of this.#takes) {
			this.#settle(output)
			p.reject(new RouterError(code, `${message} before the tally of output ${output} to input ${p.input} confirmed`))
		}
		for (const [output, p] of this.#locks) {
			this.#settleLock(output)
			p.reject(new RouterError(code, `${message} before the lock of output ${output} confirmed`))
		}
	}

	#expire(output: number, timeoutMs: number): void {
		const p = this.#takes.get(output)
		if (!p) return
		this.#takes.delete(output)
		const shown = this.shown(output)
		if (p.contrary !== null && shown !== p.input) {
			p.reject(
				new RouterError(
					'refused',
					`router ${this.deviceId} kept output ${output} on input ${shown ?? p.contrary} after the take of input ${p.input}`,
				),
			)
			return
		}
		p.reject(
			new RouterError(
				'timeout',
				`router ${this.deviceId} did not confirm output ${output} to input ${p.input} within ${timeoutMs} ms (its tally shows ${shown === undefined ? 'nothing' : `input ${shown}`})`,
			),
		)
	}

	#settle(output: number): void {
		this.#takes.delete(output)
		this.timers.clear(`take:${output}`)
	}

	#settleLock(output: number): void {
		this.#locks.delete(output)
		this.timers.clear(`lock:${output}`)
	}
}
