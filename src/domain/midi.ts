// MIDI control surfaces in the config (docs/contract.md §2): buttons that send commands, LEDs that show state.
// Apart from config.ts to keep that file short; config.ts re-exports Midi.
import { z } from 'zod'
import { Id } from './primitives.ts'

const MidiChannel = z.number().int().min(1).max(16).default(1).describe('MIDI channel, 1-16')
const MidiNumber = z.number().int().min(0).max(127)

export const MidiControl = z
	.strictObject({
		note: MidiNumber.optional().describe('note number of the button (note on with velocity > 0 presses it)'),
		cc: MidiNumber.optional().describe('control change number of the button (value >= 64 presses it)'),
		channel: MidiChannel,
		feed: z
			.string()
			.regex(/^[^/]+\/[^/]+$/, 'must be EVENT/FEED')
			.describe('the feed, as event/feed'),
		action: z.enum(['take', 'auto', 'manual', 'lock', 'unlock']).describe('what the button does'),
		path: Id.optional().describe('the path a take button takes'),
		force: z.boolean().default(false).describe('a take button that takes an ineligible path'),
	})
	.refine((c) => (c.note === undefined) !== (c.cc === undefined), { message: 'give either note or cc' })
	.refine((c) => (c.action === 'take') === (c.path !== undefined), {
		message: 'a take button needs a path, and only a take button has one',
	})
	.describe(
		'a button: pressing it sends the command; its LED shows the state it selects (the path active, auto, manual, locked, unlocked)',
	)

export const MidiTally = z
	.strictObject({
		note: MidiNumber.optional().describe('LED note number'),
		cc: MidiNumber.optional().describe('LED control change number'),
		channel: MidiChannel,
		feed: z
			.string()
			.regex(/^[^/]+\/[^/]+$/, 'must be EVENT/FEED')
			.describe('the feed, as event/feed'),
		path: Id.describe('the path'),
		when: z.enum(['active', 'healthy', 'failed', 'degraded']).default('active').describe('when the LED is lit'),
	})
	.refine((c) => (c.note === undefined) !== (c.cc === undefined), { message: 'give either note or cc' })
	.describe('an LED or tally lamp that shows a path state')

export const Midi = z
	.strictObject({
		input: z.string().min(1).optional().describe('input port name, or part of it (absent: the first port)'),
		output: z.string().min(1).optional().describe('output port name for LEDs, or part of it (absent: the first port)'),
		controls: z.array(MidiControl).default([]).describe('buttons'),
		tally: z.array(MidiTally).default([]).describe('LEDs and tally lamps'),
	})
	.describe('MIDI control surfaces')
export type Midi = z.infer<typeof Midi>
