// The Megatec / "Q1" UPS serial protocol (2400 8N1), pure: requests out, reply lines in, typed readings out.
// Reference: the Megatec protocol sheet ("UPS Protocol", Megatec, rev. 2.x) as used by NUT's nutdrv_qx
// (protocol megatec) and blazer drivers:
//   Q1<cr> -> (MMM.M NNN.N PPP.P QQQ RR.R S.SS TT.T b7b6b5b4b3b2b1b0<cr>
//            input V, input fault V, output V, load %, input Hz, battery V (per cell or total), temperature C, bits
//   F<cr>  -> #MMM.M QQQ SS.SS RR.R<cr>   rated voltage, rated current, battery voltage, frequency
//   I<cr>  -> #<company 15> <model 10> <version 10><cr>
//   any command the UPS does not know is echoed back unchanged.
// Status bits: b7 utility fail, b6 battery low, b5 bypass/boost/buck active, b4 UPS failed, b3 UPS type is
// standby (0 = on-line), b2 test in progress, b1 shutdown active, b0 beeper on.
import type { UpsPower } from '../../src/domain/power.ts'
import { LineSplitter } from '../common/lines.ts'

export const CR = '\r'
export const MAX_LINE = 256

export type MegatecRequest = 'Q1' | 'F' | 'I'

export function formatRequest(cmd: MegatecRequest): string {
	return `${cmd}${CR}`
}

/** Reply lines: end in CR (LF tolerated and dropped), bounded: a line past MAX_LINE is dropped up to its CR. */
export function megatecLines(onOverflow?: () => void): LineSplitter {
	return new LineSplitter({ terminator: 'cr', maxLine: MAX_LINE, ...(onOverflow ? { onOverflow } : {}) })
}

export interface Q1Status {
	utilityFail: boolean
	batteryLow: boolean
	bypassActive: boolean
	upsFailed: boolean
	standbyType: boolean
	testInProgress: boolean
	shutdownActive: boolean
	beeperOn: boolean
}

export interface Q1Reading {
	inputVoltage: number | null
	inputFaultVoltage: number | null
	outputVoltage: number | null
	loadPercent: number | null
	inputHz: number | null
	batteryVoltage: number | null
	temperatureC: number | null
	status: Q1Status
	bits: string
}

const num = (s: string): number | null => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : null)

/** A Q1 reply line (without its CR) to a reading; null when it is not a Q1 reply (an echo, garbage, a cut line). */
export function parseQ1(line: string): Q1Reading | null {
	if (!line.startsWith('(')) return null
	const f = line.slice(1).trim().split(/\s+/)
	if (f.length !== 8) return null
	const bits = f[7]!
	if (!/^[01]{8}$/.test(bits)) return null
	const nums = f.slice(0, 7).map(num)
	// a line whose numbers are all unreadable is noise, not a reading
	if (nums.every((n) => n === null)) return null
	const b = (i: number) => bits[i] === '1'
	return {
		inputVoltage: nums[0]!,
		inputFaultVoltage: nums[1]!,
		outputVoltage: nums[2]!,
		loadPercent: nums[3]!,
		inputHz: nums[4]!,
		batteryVoltage: nums[5]!,
		temperatureC: nums[6]!,
		status: {
			utilityFail: b(0),
			batteryLow: b(1),
			bypassActive: b(2),
			upsFailed: b(3),
			standbyType: b(4),
			testInProgress: b(5),
			shutdownActive: b(6),
			beeperOn: b(7),
		},
		bits,
	}
}

export function formatQ1(r: Q1Reading): string {
	const f = (v: number | null, digits: number, frac: number) => {
		const width = digits + (frac ? frac + 1 : 0)
		if (v === null) return '-'.repeat(digits) + (frac ? `.${'-'.repeat(frac)}` : '')
		return v.toFixed(frac).padStart(width, '0')
	}
	// battery: total volts as SS.S (a 12 V block), or volts per cell as S.SS
	const batt =
		r.batteryVoltage !== null && r.batteryVoltage >= 10 ? f(r.batteryVoltage, 2, 1) : f(r.batteryVoltage, 1, 2)
	return `(${f(r.inputVoltage, 3, 1)} ${f(r.inputFaultVoltage, 3, 1)} ${f(r.outputVoltage, 3, 1)} ${f(r.loadPercent, 3, 0)} ${f(r.inputHz, 2, 1)} ${batt} ${f(r.temperatureC, 2, 1)} ${r.bits}${CR}`
}

export function bitsOf(s: Q1Status): string {
	return [
		s.utilityFail,
		s.batteryLow,
		s.bypassActive,
		s.upsFailed,
		s.standbyType,
		s.testInProgress,
		s.shutdownActive,
		s.beeperOn,
	]
		.map((x) => (x ? '1' : '0'))
		.join('')
}

export interface Ratings {
	voltage: number | null
	current: number | null
	batteryVoltage: number | null
	hz: number | null
}

/** An F reply (#MMM.M QQQ SS.SS RR.R). */
export function parseF(line: string): Ratings | null {
	if (!line.startsWith('#')) return null
	const f = line.slice(1).trim().split(/\s+/)
	if (f.length !== 4) return null
	const [v, c, b, h] = f.map(num)
	if (v === undefined || c === undefined || b === undefined || h === undefined) return null
	return { voltage: v, current: c, batteryVoltage: b, hz: h }
}

/** An I reply: fixed-width company (15), model (10), version (10) after '#'. */
export function parseI(line: string): { company: string; model: string; version: string } | null {
	if (!line.startsWith('#') || line.length < 2) return null
	const s = line.slice(1)
	return { company: s.slice(0, 15).trim(), model: s.slice(16, 26).trim(), version: s.slice(27, 37).trim() }
}

/**
 * The power state of docs/contract.md §1 from a Q1 reading:
 * - shutdown active (b1): low-battery, whatever the other bits say. The UPS is counting down to cutting its output
 *   (an S command), so its load is as good as lost (§7's power model). NUT's nutdrv_qx reports this bit as FSD and
 *   our NUT driver reads FSD as low-battery, so one UPS reads the same through either driver; the bit itself
 *   stays in the reading's extra (`shutdownActive`) as the reason;
 * - utility fail: on-battery, or low-battery with the battery-low bit;
 * - else an on-line UPS (b3 = 0) with b5 is on bypass; a standby/line-interactive UPS (b3 = 1) with b5 is
 *   boosting or bucking the line (AVR), which is online;
 * - else output voltage below 10 V on utility is off (the UPS was switched off or shut down);
 * - else online.
 */
export function powerOf(r: Q1Reading): UpsPower {
	if (r.status.shutdownActive) return 'low-battery'
	if (r.status.utilityFail) return r.status.batteryLow ? 'low-battery' : 'on-battery'
	if (r.status.bypassActive && !r.status.standbyType) return 'bypass'
	if (r.outputVoltage !== null && r.outputVoltage < 10) return 'off'
	return 'online'
}
