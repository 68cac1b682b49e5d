// Readiness (docs/contract.md §6a), told as it is:
// - **ready** (`/readyz` 200): every device with a driver has completed its first sync (a router its routing read, a
//   poller one answer, an SRT listener bound). Until then `/readyz` answers 503 with each device still waiting and why.
// - **started** (systemd READY=1, the first publication): every router has synced, so every feed knows what is on
//   air; or `readyTimeoutMs` has passed. At that timeout each device not yet synced stands as a `device-stale` alarm,
//   cleared when it syncs; a daemon never claims a device it has not heard from.
import type { Logger } from 'pino'

export interface Syncable {
	id: string
	/** routers gate the first publication: without their crosspoints no feed knows what is on air */
	router: boolean
	synced: () => boolean
	/** why it has not synced yet, in an operator's words */
	why: () => string
}

export interface FirstSyncOptions {
	readyTimeoutMs: number
	log: Logger
	running: () => boolean
	/** the first publication (READY=1) */
	publish: () => void
	/** a device has not synced by the timeout (true), or has synced since (false) */
	stale: (device: string, stale: boolean, why: string) => void
}

export class FirstSync {
	private timer: NodeJS.Timeout | undefined
	private published = false
	private timedOut = false
	private readonly staleNow = new Set<string>()

	constructor(
		private readonly devices: readonly Syncable[],
		private readonly o: FirstSyncOptions,
	) {}

	/** Arms the timeout and checks once (a config without routers starts at once). */
	start(): void {
		this.timer = setTimeout(() => this.onTimeout(), this.o.readyTimeoutMs)
		this.check()
	}

	/** A device synced (or its state changed): publishes once every router has; clears a device's stale alarm. */
	check(): void {
		if (!this.o.running()) return
		if (!this.published && this.devices.every((d) => !d.router || d.synced())) this.publish()
		for (const id of [...this.staleNow]) {
			const d = this.devices.find((x) => x.id === id)
			if (d?.synced()) {
				this.staleNow.delete(id)
				this.o.stale(id, false, 'synced')
			}
		}
	}

	/** Every device with a driver has completed its first sync. */
	get ready(): boolean {
		return this.devices.every((d) => d.synced())
	}

	/** The devices not yet through their first sync, with why. */
	waiting(): { device: string; why: string }[] {
		return this.devices.filter((d) => !d.synced()).map((d) => ({ device: d.id, why: d.why() }))
	}

	stop(): void {
		if (this.timer) clearTimeout(this.timer)
		this.timer = undefined
	}

	private onTimeout(): void {
		this.timer = undefined
		if (!this.o.running()) return
		this.timedOut = true
		const waiting = this.waiting()
		if (!this.published) {
			this.o.log.warn({ waiting }, 'first sync incomplete: starting without these devices')
			this.publish()
		}
		for (const w of waiting) {
			this.staleNow.add(w.device)
			this.o.stale(w.device, true, w.why)
		}
	}

	private publish(): void {
		this.published = true
		this.o.publish()
	}

	/** whether the ready timeout has passed (for tests and the log) */
	get timeoutPassed(): boolean {
		return this.timedOut
	}
}
