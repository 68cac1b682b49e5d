// The first sync (docs/contract.md §6a): state is published, and the daemon is ready, once every device has been
// read in full: each router's crosspoints, each signal device's first report, each UPS's first reading. A device that
// never answers holds the first publication back for at most `timeoutMs`, after which state is published without it,
// naming it.
import type { Logger } from 'pino'

export interface Syncable {
	id: string
	synced: () => boolean
}

export class FirstSync {
	private timer: NodeJS.Timeout | undefined
	private done = false

	constructor(
		private readonly devices: readonly Syncable[],
		private readonly o: { timeoutMs: number; log: Logger; publish: () => void; running: () => boolean },
	) {}

	/** Arms the timeout and checks once (a config without devices is in sync at once). */
	start(): void {
		this.timer = setTimeout(() => {
			this.timer = undefined
			if (this.done) return
			this.o.log.warn({ waiting: this.waiting() }, 'first sync incomplete: publishing state without these devices')
			this.complete()
		}, this.o.timeoutMs)
		this.check()
	}

	/** A device synced: publishes once every device has. */
	check(): void {
		if (this.done || !this.o.running()) return
		if (this.devices.every((d) => d.synced())) this.complete()
	}

	/** The devices not yet read in full. */
	waiting(): string[] {
		return this.devices.filter((d) => !d.synced()).map((d) => d.id)
	}

	stop(): void {
		if (this.timer) clearTimeout(this.timer)
		this.timer = undefined
	}

	private complete(): void {
		this.done = true
		this.stop()
		this.o.publish()
	}
}
