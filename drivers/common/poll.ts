// The poll loop of an ask-and-answer device (NUT's upsd, a Megatec serial UPS): one poll at a time, never
// overlapping (both protocols answer strictly in order, one request at a time: net-protocol.txt, the Megatec sheet),
// the next one intervalMs after the last one ended, and stop() that leaves no timer. The one place its timer is made.
//
// SNMP keeps its own cadence loop (snmp/connection.ts): it keeps the period from each poll's start, spreads devices
// with a random phase and backs off after failures, which these serial/TCP loops do not need (their connection
// does the backing off).

export interface PollLoopOptions {
	intervalMs: number
	/** one poll; a rejection is the caller's bug and is left unhandled, like any other */
	poll: () => Promise<void>
}

export class PollLoop {
	#timer: NodeJS.Timeout | null = null
	#busy = false
	#stopped = false

	constructor(private readonly o: PollLoopOptions) {}

	/** true while a poll or an exclusive() exchange runs */
	get busy(): boolean {
		return this.#busy
	}

	/** Starts the cadence: the first poll is one interval away (a connection's hello usually polls at once). */
	start(): void {
		if (this.#stopped || this.#timer) return
		this.#schedule()
	}

	/** Polls now, unless one is running (then this is a no-op: its answer is as fresh); the cadence restarts after. */
	async now(): Promise<void> {
		if (this.#stopped || this.#busy) return
		this.#busy = true
		try {
			await this.o.poll()
		} finally {
			this.#busy = false
			if (!this.#stopped) this.#schedule()
		}
	}

	/** Runs an exchange no poll may interleave with (Megatec's identity requests on open). */
	async exclusive<T>(fn: () => Promise<T>): Promise<T> {
		this.#busy = true
		try {
			return await fn()
		} finally {
			this.#busy = false
		}
	}

	stop(): void {
		this.#stopped = true
		if (this.#timer) clearTimeout(this.#timer)
		this.#timer = null
	}

	#schedule(): void {
		if (this.#timer) clearTimeout(this.#timer)
		this.#timer = setTimeout(() => {
			this.#timer = null
			void this.now()
		}, this.o.intervalMs)
	}
}
