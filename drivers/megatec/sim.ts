// A Megatec/Q1 UPS simulator on a serial port (a socat pty end in tests and the lab). It answers as the
// protocol sheet says: Q1 status, F ratings, I identity; Q (beeper), T/TL/Tn (tests), Sn/SnRm (shutdown) and
// C/CT (cancel) are acted on without a reply; anything else is echoed back unchanged, as real units do.
// Faults for tests: `mode = 'silent'` (no replies: a cut cable) and `mode = 'garbage'` (line noise).
import { SerialPort } from 'serialport'
import { bitsOf, CR, formatQ1, megatecLines, type Q1Reading, type Q1Status } from './codec.ts'

export type MegatecSimMode = 'normal' | 'silent' | 'garbage'

export interface MegatecSimOptions {
	path: string
	baudRate?: number
	company?: string
	model?: string
	version?: string
}

const ONLINE: Q1Status = {
	utilityFail: false,
	batteryLow: false,
	bypassActive: false,
	upsFailed: false,
	standbyType: false,
	testInProgress: false,
	shutdownActive: false,
	beeperOn: true,
}

export class MegatecSim {
	#port: SerialPort | null = null
	#splitter = megatecLines()
	mode: MegatecSimMode = 'normal'
	/** commands received, newest last (bounded) */
	readonly received: string[] = []
	readonly errors: Error[] = []
	#values: Omit<Q1Reading, 'bits' | 'status'> = {
		inputVoltage: 230.1,
		inputFaultVoltage: 140.0,
		outputVoltage: 229.8,
		loadPercent: 34,
		inputHz: 50.0,
		batteryVoltage: 13.7,
		temperatureC: 35.0,
	}
	#status: Q1Status = { ...ONLINE }

	constructor(private readonly o: MegatecSimOptions) {}

	async start(): Promise<void> {
		if (this.#port) return
		const port = new SerialPort({
			path: this.o.path,
			baudRate: this.o.baudRate ?? 2400,
			dataBits: 8,
			parity: 'none',
			stopBits: 1,
			autoOpen: false,
		})
		await new Promise<void>((resolve, reject) =>
			port.open((err) =>
				err ? reject(new Error(`megatec sim: cannot open ${this.o.path}`, { cause: err })) : resolve(),
			),
		)
		port.on('data', (chunk: Buffer) => {
			for (const line of this.#splitter.push(chunk.toString('latin1'))) this.#onCommand(line)
		})
		port.on('error', (err) => this.#keep(err))
		this.#port = port
	}

	async stop(): Promise<void> {
		const p = this.#port
		this.#port = null
		if (p?.isOpen) await new Promise<void>((resolve) => p.close(() => resolve()))
	}

	/** The UPS as a Q1 reply would show it now. */
	reading(): Q1Reading {
		return { ...this.#values, status: { ...this.#status }, bits: bitsOf(this.#status) }
	}

	set(values: Partial<Omit<Q1Reading, 'bits' | 'status'>>, status: Partial<Q1Status> = {}): void {
		this.#values = { ...this.#values, ...values }
		this.#status = { ...this.#status, ...status }
	}

	/** Utility lost: on battery (the battery voltage sags), optionally with the battery-low bit. */
	onBattery(low = false): void {
		this.set({ inputVoltage: 0, inputHz: 0, batteryVoltage: low ? 10.6 : 12.4 }, { utilityFail: true, batteryLow: low })
	}

	online(): void {
		this.set({ inputVoltage: 230.1, inputHz: 50.0, outputVoltage: 229.8, batteryVoltage: 13.7 }, { ...ONLINE })
	}

	#keep(err: Error): void {
		if (this.errors.length >= 100) this.errors.shift()
		this.errors.push(err)
	}

	#reply(s: string): void {
		this.#port?.write(s, (err) => {
			if (err) this.#keep(err)
		})
	}

	#onCommand(cmd: string): void {
		if (this.received.length >= 1000) this.received.shift()
		this.received.push(cmd)
		if (this.mode === 'silent') return
		if (this.mode === 'garbage') {
			this.#reply(`(\u00ff\u0001 23x.1 --- ${'#'.repeat(12)}${CR}`)
			return
		}
		if (cmd === 'Q1') return this.#reply(formatQ1(this.reading()))
		if (cmd === 'F') return this.#reply(`#230.0 004 12.00 50.0${CR}`)
		if (cmd === 'I') {
			const pad = (s: string, n: number) => s.slice(0, n).padEnd(n, ' ')
			return this.#reply(
				`#${pad(this.o.company ?? 'SIGPATH', 15)} ${pad(this.o.model ?? 'SIM-Q1', 10)} ${pad(this.o.version ?? '1.0', 10)}${CR}`,
			)
		}
		if (cmd === 'Q') {
			this.#status = { ...this.#status, beeperOn: !this.#status.beeperOn }
			return
		}
		if (/^T(L|\d\d)?$/.test(cmd)) {
			this.#status = { ...this.#status, testInProgress: true }
			return
		}
		if (cmd === 'CT') {
			this.#status = { ...this.#status, testInProgress: false }
			return
		}
		if (/^S(\.\d|\d\d)(R\d{4})?$/.test(cmd)) {
			this.#status = { ...this.#status, shutdownActive: true }
			return
		}
		if (cmd === 'C') {
			this.#status = { ...this.#status, shutdownActive: false }
			return
		}
		// the protocol sheet: an unknown command is echoed back
		this.#reply(`${cmd}${CR}`)
	}
}
