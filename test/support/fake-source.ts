// A signal device for runtime tests where the driver itself is not what is tested: it reports what the test says.
import { EventEmitter } from 'node:events'
import { monotonicMs } from '../../src/clock.ts'
import type { Health, SignalReport } from '../../drivers/types.ts'
import type { SignalSource, SignalSourceEvents } from '../../src/runtime/devices.ts'

export class FakeSource extends EventEmitter<SignalSourceEvents> implements SignalSource {
	private synced = false
	private last: SignalReport = 'unknown'
	constructor(readonly deviceId: string) {
		super()
	}
	start(): void {
		setImmediate(() => {
			this.synced = true
			this.emit('synced')
		})
	}
	async stop(): Promise<void> {}
	isSynced(): boolean {
		return this.synced
	}
	status(): { connected: boolean; health: Health; detail: Record<string, unknown> } {
		return { connected: true, health: this.last === 'up' ? 'ok' : 'unknown', detail: { signal: this.last } }
	}

	report(state: SignalReport, at = monotonicMs()): void {
		this.last = state
		this.emit('signal', { state, at })
	}
}
